import SwiftProtobuf

/// The Ganglion event envelope (`ganglion.v1.EventEnvelope`): CloudEvents attributes, routing
/// key, schema reference, causality, trace context and payload. Generated from
/// `proto/ganglion/v1/event.proto`.
public typealias EventEnvelope = Ganglion_V1_EventEnvelope

extension EventEnvelope {
    /// The CloudEvents specification version Ganglion writes.
    public static let cloudEventsSpecVersion = "1.0"

    /// The media type of a protobuf-encoded `data` payload.
    public static let protobufContentType = "application/protobuf"
}
