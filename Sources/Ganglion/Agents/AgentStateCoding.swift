import Foundation
import SwiftProtobuf

/// Lets a protobuf message be an agent's per-key state: declare `extension MyState:
/// ProtobufAgentState {}` and the runtime stores it in the changelog as protobuf binary (the
/// Codable conformance this provides is only there to satisfy ``Agent/State``).
public protocol ProtobufAgentState: SwiftProtobuf.Message, Codable {}

extension ProtobufAgentState {
    /// Decodes the message from its binary, held as one data value.
    public init(from decoder: any Swift.Decoder) throws {
        let container = try decoder.singleValueContainer()
        try self.init(serializedBytes: try container.decode(Data.self))
    }

    /// Encodes the message's binary as one data value.
    public func encode(to encoder: any Swift.Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(try serializedData())
    }
}

/// How an agent's state is stored in its changelog: protobuf binary for a protobuf message,
/// JSON for any other Codable type.
enum AgentStateCoding<State: Codable & Sendable> {
    static func encode(_ state: State) throws -> [UInt8] {
        if let message = state as? any SwiftProtobuf.Message { return try message.serializedBytes() }
        return try StateJSONEncoder.encode(state) ?? Array(JSONEncoder().encode(state))
    }

    /// ``encode(_:)`` for one handler's many events: whether the type is a protobuf message is
    /// decided once and one JSON encoder serves every call (a conformance check and a new encoder
    /// per event were a twentieth of the runtime's time for a small state), and JSON is written by
    /// ``StateJSONEncoder`` where it can. A class type is checked per value, as a subclass may be
    /// a message.
    static func encoder() -> @Sendable (State) throws -> [UInt8] {
        if State.self is AnyClass { return { try encode($0) } }
        if State.self is any SwiftProtobuf.Message.Type { return { try ($0 as! any SwiftProtobuf.Message).serializedBytes() } }
        let json = JSONEncoder()
        return { try StateJSONEncoder.encode($0) ?? Array(json.encode($0)) }
    }

    /// The state in `bytes`; nil when they do not decode (a state stored by an incompatible version).
    static func decode(_ bytes: [UInt8]) -> State? {
        if let type = State.self as? any SwiftProtobuf.Message.Type {
            return (try? type.init(serializedBytes: bytes)) as? State
        }
        return try? JSONDecoder().decode(State.self, from: Data(bytes))
    }
}
