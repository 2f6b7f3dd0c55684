/// A message type reduced to what the compatibility rules look at, shaped as `.proto` text declares it:
/// map entry messages are not nested types here, and proto3 `optional` fields are not in a oneof.
struct MessageModel: Hashable, Sendable {
    /// The simple name.
    var name: String
    /// The full name with package, no leading dot.
    var fullName: String
    /// Fields outside any real oneof, in declaration order.
    var fields: [FieldModel]
    /// Real oneofs in declaration order.
    var oneofs: [OneofModel]
    /// Nested message types (map entries excluded), in declaration order.
    var messages: [MessageModel]
    /// Nested enum types, in declaration order.
    var enums: [EnumModel]
    /// Reserved field numbers, as closed ranges.
    var reservedNumbers: [ClosedRange<Int32>]

    /// Every field, in or out of a oneof.
    var allFields: [FieldModel] { fields + oneofs.flatMap(\.fields) }
}

/// An enum type reduced to its values and reserved numbers.
struct EnumModel: Hashable, Sendable {
    /// One value of an enum.
    struct Value: Hashable, Sendable {
        /// The value's name.
        var name: String
        /// The value's number.
        var number: Int32

        /// `ACTIVE = 1`.
        var declaration: String { "\(name) = \(number)" }
    }

    /// The simple name.
    var name: String
    /// The full name with package, no leading dot.
    var fullName: String
    /// Values in declaration order.
    var values: [Value]
    /// Reserved numbers, as closed ranges.
    var reservedNumbers: [ClosedRange<Int32>]
}

/// The top-level content of one `.proto` file.
struct FileModel: Hashable, Sendable {
    /// The file's name in the descriptor set.
    var name: String
    /// The package, empty when none.
    var package: String
    /// Top-level messages (in declaration order).
    var messages: [MessageModel]
    /// Top-level enums (in declaration order).
    var enums: [EnumModel]
}

/// A named type of a schema version, found by full name when a field refers to it.
struct TypeEntry: Hashable, Sendable {
    /// What kind of type it is.
    enum Kind: Hashable, Sendable {
        /// A message type.
        case message(MessageModel)
        /// An enum type.
        case enumeration(EnumModel)
        /// The synthetic entry message of a map field.
        case mapEntry(key: FieldModel, value: FieldModel)
    }

    /// The package of the file that declares it.
    var package: String
    /// Whether it is declared in the version's main file (Confluent: no schema reference).
    var isInMainFile: Bool
    /// What it is.
    var kind: Kind
}

/// One schema version as the rules see it: its main file and every type of the set by full name.
struct SchemaModel: Sendable {
    /// The main file.
    var mainFile: FileModel
    /// Every message, enum and map entry of every file in the set, by full name.
    var types: [String: TypeEntry]
}
