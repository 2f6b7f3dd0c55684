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

/// A CurveZMQ long-term key pair. Printed, it shows its public key only: the secret half never
/// reaches a log through string interpolation or `dump`.
public struct CurveKeyPair: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The public half, given to peers.
    public let publicKey: CurveKey
    /// The secret half, never leaves this process.
    public let secretKey: CurveKey

    /// `CurveKeyPair(public: …, secret: redacted)`.
    public var description: String { "CurveKeyPair(public: \(publicKey.z85), secret: redacted)" }
    /// As ``description``.
    public var debugDescription: String { description }
    /// Reflection (`dump`, `String(reflecting:)` of a containing value) shows the public key only.
    public var customMirror: Mirror { Mirror(self, children: ["publicKey": publicKey, "secretKey": "redacted"]) }

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

/// What a CURVE client socket presents: its own long-term key pair (which the server's ZAP handler
/// maps to a principal) and the server's public key it insists on (a server with another key never
/// completes the handshake).
public struct CurveClientCredentials: Sendable, Hashable {
    /// The client's key pair.
    public var keys: CurveKeyPair
    /// The public key of the server(s) it connects to.
    public var serverKey: CurveKey

    /// Credentials from a key pair and the server's public key.
    public init(keys: CurveKeyPair, serverKey: CurveKey) {
        self.keys = keys
        self.serverKey = serverKey
    }

    /// The options that make a socket a CURVE client with these credentials (set before connecting).
    public var socketOptions: [SocketOption] {
        [.curveServerKey(serverKey), .curvePublicKey(keys.publicKey), .curveSecretKey(keys.secretKey)]
    }
}

/// What a CURVE server socket needs: its key pair and the ZAP domain its peers are checked in.
public struct CurveServerCredentials: Sendable, Hashable {
    /// The server's key pair (clients are given its public half).
    public var keys: CurveKeyPair
    /// The ZAP domain (``SocketOption/zapDomain(_:)``) the socket's peers are authenticated in.
    public var zapDomain: String

    /// Server credentials.
    public init(keys: CurveKeyPair, zapDomain: String) {
        self.keys = keys
        self.zapDomain = zapDomain
    }

    /// The options that make a socket a CURVE server (set before binding).
    public var socketOptions: [SocketOption] {
        [.curveServer(true), .curveSecretKey(keys.secretKey), .zapDomain(zapDomain)]
    }
}
