import SwiftProtobuf

/// A set of compiled files whose messages can be encoded, decoded and validated dynamically
/// (without generated code): what the registry and the CLI use for any registered type.
public struct SchemaSet: Sendable {
    let index: DescriptorIndex

    /// The messages and enums of `files` (a descriptor set with its imports).
    public init(files: [Google_Protobuf_FileDescriptorProto]) {
        var all = files
        // The well-known types must be known to render them (Any, Timestamp, …); add any missing.
        let present = Set(files.map(\.name))
        let wellKnown = WellKnownProtos.files.keys.filter { !present.contains($0) }.sorted()
        if !wellKnown.isEmpty, let compiled = try? ProtoCompiler().compile(wellKnown) {
            all += compiled.allFiles.filter { !present.contains($0.name) }
        }
        index = DescriptorIndex(all)
    }

    /// The set compiled from a descriptor set (e.g. as protoc writes it).
    public init(descriptorSet: Google_Protobuf_FileDescriptorSet) {
        self.init(files: descriptorSet.file)
    }

    /// Whether `messageType` (full name, e.g. `shop.v1.Order`) is defined.
    public func contains(messageType: String) -> Bool { index.messages[DescriptorIndex.bare(messageType)] != nil }

    /// Every message type defined, by full name.
    public var messageTypes: [String] { index.messages.keys.sorted() }

    func message(_ name: String) throws(CodecError) -> Google_Protobuf_DescriptorProto {
        guard let message = index.messages[DescriptorIndex.bare(name)] else {
            throw CodecError(path: name, "message type \"\(name)\" is not defined in this schema")
        }
        return message
    }
}

/// A payload that does not fit its schema, or JSON that does not map onto it.
public struct CodecError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Where in the message: `Order.lines[2].sku`, or a byte offset for binary input.
    public var path: String
    /// What is wrong.
    public var message: String

    /// An error at `path`.
    public init(path: String, _ message: String) {
        self.path = path
        self.message = message
    }

    /// `path: message`.
    public var description: String { "\(path): \(message)" }
}
