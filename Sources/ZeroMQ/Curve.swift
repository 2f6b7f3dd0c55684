import CZeroMQ

/// A 32-byte CurveZMQ key (public or secret), held in binary and shown in Z85 text.
public struct CurveKey: Sendable, Hashable, CustomStringConvertible {
    /// The key's 32 bytes.
    public let bytes: [UInt8]

    /// A key from its 32 raw bytes.
    public init(bytes: [UInt8]) throws {
        guard bytes.count == 32 else {
            throw ZeroMQError(
                code: .invalidArgument, message: "a CURVE key has 32 bytes, got \(bytes.count)",
                operation: "CurveKey(bytes:)")
        }
        self.bytes = bytes
    }

    /// A key from its 40-character Z85 text (as `zmq_curve_keypair` and czmq's cert files write it).
    public init(z85 text: String) throws {
        guard text.utf8.count == 40 else {
            throw ZeroMQError(
                code: .invalidArgument,
                message: "a Z85 CURVE key has 40 characters, got \(text.utf8.count)",
                operation: "CurveKey(z85:)")
        }
        var decoded = [UInt8](repeating: 0, count: 32)
        guard zmq_z85_decode(&decoded, text) != nil else {
            throw ZeroMQError(
                code: .invalidArgument, message: "\"\(text)\" is not valid Z85 text",
                operation: "CurveKey(z85:)")
        }
        self.bytes = decoded
    }

    /// The key as 40 characters of Z85 text.
    public var z85: String {
        var text = [CChar](repeating: 0, count: 41)
        bytes.withUnsafeBufferPointer { _ = zmq_z85_encode(&text, $0.baseAddress, 32) }
        return CurveKey.string(fromZ85Buffer: text)
    }

    /// The text in a NUL-terminated buffer filled by libzmq's Z85 functions.
    static func string(fromZ85Buffer buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The Z85 text (public keys are not secret; do not log secret keys).
    public var description: String { z85 }
}

/// A CurveZMQ long-term key pair.
public struct CurveKeyPair: Sendable, Hashable {
    /// The public half, given to peers.
    public let publicKey: CurveKey
    /// The secret half, never leaves this process.
    public let secretKey: CurveKey

    /// A pair from known keys.
    public init(publicKey: CurveKey, secretKey: CurveKey) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// A fresh random key pair (`zmq_curve_keypair`); fails when libzmq lacks CURVE.
    public static func generate() throws -> CurveKeyPair {
        var publicText = [CChar](repeating: 0, count: 41)
        var secretText = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&publicText, &secretText) == 0 else {
            throw ZeroMQError.last("zmq_curve_keypair")
        }
        return CurveKeyPair(
            publicKey: try CurveKey(z85: CurveKey.string(fromZ85Buffer: publicText)),
            secretKey: try CurveKey(z85: CurveKey.string(fromZ85Buffer: secretText)))
    }

    /// The public key derived from a secret key (`zmq_curve_public`).
    public static func publicKey(for secretKey: CurveKey) throws -> CurveKey {
        var publicText = [CChar](repeating: 0, count: 41)
        guard zmq_curve_public(&publicText, secretKey.z85) == 0 else {
            throw ZeroMQError.last("zmq_curve_public")
        }
        return try CurveKey(z85: CurveKey.string(fromZ85Buffer: publicText))
    }
}
