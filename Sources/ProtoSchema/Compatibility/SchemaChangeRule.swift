/// A kind of difference between two schema versions. The names and verdicts are Confluent Schema Registry's
/// (`Difference.Type` and `SchemaDiff.COMPATIBLE_CHANGES`), plus two strict wire rules in the manner of `buf breaking`.
public enum SchemaChangeRule: String, CaseIterable, Sendable, Hashable, Codable {
    /// The main file's package changed (incompatible since Confluent's DGS-10184).
    case packageChanged = "PACKAGE_CHANGED"
    /// A message type appeared in the main file.
    case messageAdded = "MESSAGE_ADDED"
    /// A message type of the main file disappeared; data may name it by message index.
    case messageRemoved = "MESSAGE_REMOVED"
    /// A message type changed position among its siblings (indexes are relative to the writer's schema id).
    case messageMoved = "MESSAGE_MOVED"
    /// An enum type appeared.
    case enumAdded = "ENUM_ADDED"
    /// An enum type disappeared.
    case enumRemoved = "ENUM_REMOVED"
    /// An enum gained a value number.
    case enumConstAdded = "ENUM_CONST_ADDED"
    /// An enum value number got another name.
    case enumConstChanged = "ENUM_CONST_CHANGED"
    /// An enum lost a value number.
    case enumConstRemoved = "ENUM_CONST_REMOVED"
    /// A message gained a field number.
    case fieldAdded = "FIELD_ADDED"
    /// A message lost a field number.
    case fieldRemoved = "FIELD_REMOVED"
    /// A field number got another name.
    case fieldNameChanged = "FIELD_NAME_CHANGED"
    /// A field changed between scalar (or enum), message and map.
    case fieldKindChanged = "FIELD_KIND_CHANGED"
    /// A scalar field moved to a scalar group its old encoding does not read as.
    case fieldScalarKindChanged = "FIELD_SCALAR_KIND_CHANGED"
    /// A message field refers to another message, or to an imported message that changed incompatibly.
    case fieldNamedTypeChanged = "FIELD_NAMED_TYPE_CHANGED"
    /// A numeric field's explicit label changed (e.g. `optional` to `repeated`).
    case fieldNumericLabelChanged = "FIELD_NUMERIC_LABEL_CHANGED"
    /// A string or bytes field's explicit label changed.
    case fieldStringOrBytesLabelChanged = "FIELD_STRING_OR_BYTES_LABEL_CHANGED"
    /// The reader has a required field the writer lacks.
    case requiredFieldAdded = "REQUIRED_FIELD_ADDED"
    /// The writer had a required field the reader lacks.
    case requiredFieldRemoved = "REQUIRED_FIELD_REMOVED"
    /// A oneof appeared.
    case oneofAdded = "ONEOF_ADDED"
    /// A oneof disappeared.
    case oneofRemoved = "ONEOF_REMOVED"
    /// A oneof gained a member.
    case oneofFieldAdded = "ONEOF_FIELD_ADDED"
    /// A oneof lost a member that is gone from the whole message.
    case oneofFieldRemoved = "ONEOF_FIELD_REMOVED"
    /// A oneof now holds more than one field that used to be independent.
    case multipleFieldsMovedToOneof = "MULTIPLE_FIELDS_MOVED_TO_ONEOF"
    /// A oneof now groups an existing field with fields it was independent of.
    case fieldMovedToExistingOneof = "FIELD_MOVED_TO_EXISTING_ONEOF"
    /// Strict: a field was deleted and its number is not reserved in the new version.
    case fieldDeletedNotReserved = "FIELD_DELETED_NOT_RESERVED"
    /// Strict: an enum value was deleted and its number is not reserved in the new version.
    case enumValueDeletedNotReserved = "ENUM_VALUE_DELETED_NOT_RESERVED"

    /// Whether the difference leaves the versions compatible (Confluent's `COMPATIBLE_CHANGES`).
    public var isCompatible: Bool {
        switch self {
        case .messageAdded, .messageMoved, .enumAdded, .enumRemoved, .enumConstAdded, .enumConstChanged,
             .enumConstRemoved, .fieldAdded, .fieldRemoved, .fieldNameChanged, .fieldStringOrBytesLabelChanged,
             .oneofAdded, .oneofRemoved, .oneofFieldAdded:
            true
        case .packageChanged, .messageRemoved, .fieldKindChanged, .fieldScalarKindChanged, .fieldNamedTypeChanged,
             .fieldNumericLabelChanged, .requiredFieldAdded, .requiredFieldRemoved, .oneofFieldRemoved,
             .multipleFieldsMovedToOneof, .fieldMovedToExistingOneof, .fieldDeletedNotReserved,
             .enumValueDeletedNotReserved:
            false
        }
    }

    /// Whether the rule is one of the strict wire rules, checked only when asked for.
    public var isStrict: Bool {
        self == .fieldDeletedNotReserved || self == .enumValueDeletedNotReserved
    }
}
