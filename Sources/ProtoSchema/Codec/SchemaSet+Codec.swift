extension SchemaSet {
    /// Checks that `bytes` are a valid `messageType`: wire types fit their fields, strings are
    /// UTF-8, proto2 required fields are present. The error names the field path.
    public func validate(binary bytes: [UInt8], messageType: String) throws(CodecError) {
        _ = try decode(bytes, type: messageType, path: DescriptorIndex.bare(messageType))
    }

    /// Binary protobuf to JSON with the proto3 canonical JSON mapping (well-known types included).
    public func json(fromBinary bytes: [UInt8], messageType: String) throws(CodecError) -> String {
        let message = try decode(bytes, type: messageType, path: DescriptorIndex.bare(messageType))
        return try render(message).text
    }

    /// JSON (proto3 mapping; field names as JSON names or as declared) to binary protobuf.
    public func binary(fromJSON text: String, messageType: String) throws(CodecError) -> [UInt8] {
        let json = try JSONValue.parse(text)
        let message = try parse(json, type: DescriptorIndex.bare(messageType), path: DescriptorIndex.bare(messageType), depth: 0)
        return try encode(message)
    }
}
