import Foundation
import SwiftProtobuf

extension SwiftProtobuf.Message {
    /// Decodes a message from `bytes` read where they are (a received frame's buffer), through a
    /// span over them: no copy into `Data`, and no `Data` made at all (requests, replies and
    /// stream headers are decoded on every event's path). Safe for any message: the decoder
    /// copies what it keeps (strings, bytes fields, unknown fields), so nothing refers to `bytes`
    /// once this returns.
    public init(inPlace bytes: UnsafeRawBufferPointer) throws {
        guard !bytes.isEmpty else {
            self.init()
            return
        }
        try self.init(serializedBytes: bytes.bytes)
    }
}
