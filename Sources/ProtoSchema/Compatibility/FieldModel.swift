/// The label of a field as `.proto` text spells it; Confluent compares labels as its parser (Square Wire) reads them.
enum FieldLabel: String, Hashable, Sendable {
    case optional, required, repeated
}

/// What a field's type refers to, as the descriptor resolved it.
enum FieldTypeReference: Hashable, Sendable {
    /// A scalar keyword.
    case scalar(ScalarType)
    /// A message, group or enum by full name (no leading dot); `isEnum` is the descriptor's own verdict.
    case named(String, isEnum: Bool)
}

/// One field of a message, reduced to what the compatibility rules look at.
struct FieldModel: Hashable, Sendable {
    /// The field's name.
    var name: String
    /// The field's number (Confluent's "tag").
    var number: Int32
    /// The label as written in text: nil for proto3 singular fields, oneof members and maps, as Wire parses them.
    var label: FieldLabel?
    /// The type the field refers to.
    var type: FieldTypeReference
    /// The type as a person reads it: `int32`, `shop.Address`, `map<string, int64>`.
    var typeDisplay: String

    /// `optional int32 amount = 3`: the field as declared.
    var declaration: String {
        let prefix = label.map { "\($0.rawValue) " } ?? ""
        return "\(prefix)\(typeDisplay) \(name) = \(number)"
    }

    /// `optional int32`: label and type without name or number.
    var labelledType: String {
        let prefix = label.map { "\($0.rawValue) " } ?? ""
        return prefix + typeDisplay
    }
}

/// A real (not synthetic proto3-optional) oneof and its members.
struct OneofModel: Hashable, Sendable {
    /// The oneof's name.
    var name: String
    /// Its members in declaration order.
    var fields: [FieldModel]
}
