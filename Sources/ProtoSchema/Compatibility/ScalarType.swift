import SwiftProtobuf

/// A protobuf scalar type as written in `.proto` text (`int32`, `string`, …).
enum ScalarType: String, Hashable, Sendable {
    case double, float, int32, int64, uint32, uint64, sint32, sint64
    case fixed32, fixed64, sfixed32, sfixed64, bool, string, bytes

    /// The scalar a descriptor field type names; nil for messages, groups and enums.
    init?(_ type: Google_Protobuf_FieldDescriptorProto.TypeEnum) {
        switch type {
        case .double: self = .double
        case .float: self = .float
        case .int32: self = .int32
        case .int64: self = .int64
        case .uint32: self = .uint32
        case .uint64: self = .uint64
        case .sint32: self = .sint32
        case .sint64: self = .sint64
        case .fixed32: self = .fixed32
        case .fixed64: self = .fixed64
        case .sfixed32: self = .sfixed32
        case .sfixed64: self = .sfixed64
        case .bool: self = .bool
        case .string: self = .string
        case .bytes: self = .bytes
        case .group, .message, .enum: return nil
        }
    }

    /// The wire-compatibility group Confluent puts this scalar in (`FieldSchemaDiff.scalarKind`).
    var group: ScalarGroup {
        switch self {
        case .int32, .int64, .uint32, .uint64, .bool: .generalNumber
        case .sint32, .sint64: .signedNumber
        case .string, .bytes: .stringOrBytes
        case .fixed32, .sfixed32: .fixed32
        case .fixed64, .sfixed64: .fixed64
        case .float: .float
        case .double: .double
        }
    }
}

/// Scalars that read each other's encoding (Confluent's `ScalarKind`, after protobuf's "Updating A Message Type").
/// Enums count as general numbers.
enum ScalarGroup: Hashable, Sendable {
    case generalNumber, signedNumber, stringOrBytes, fixed32, fixed64, float, double

    /// Whether a label change within this group is Confluent's FIELD_STRING_OR_BYTES_LABEL_CHANGED (else numeric).
    var isStringOrBytes: Bool { self == .stringOrBytes }
}
