import XCTest
@testable import ZeroMQ

/// CurveZMQ: encryption and server authentication.
final class CurveTests: XCTestCase {
    override func setUpWithError() throws {
        // Debian's libzmq is built with libsodium; a libzmq without CURVE is a failed setup, not a skip.
        guard ZeroMQLibrary.hasCurve else {
            throw ZeroMQError(code: .notSupported, message: "libzmq was built without CURVE; install Debian's libzmq5", operation: "zmq_has(\"curve\")")
        }
    }

    private func curveServer(_ context: Context, keys: CurveKeyPair) throws -> (Socket, String) {
        let server = try Socket(.router, context: context)
        try server.set([.curveServer(true), .curveSecretKey(keys.secretKey), .zapDomain("ganglion")])
        XCTAssertTrue(try server.isCurveServer)
        return (server, try server.bind(anyLoopbackPort))
    }

    private func curveClient(_ context: Context, serverKey: CurveKey) throws -> Socket {
        let keys = try CurveKeyPair.generate()
        let client = try Socket(.dealer, context: context)
        try client.set([
            .curveServerKey(serverKey), .curvePublicKey(keys.publicKey), .curveSecretKey(keys.secretKey),
            .handshakeInterval(.seconds(2)),
        ])
        return client
    }

    func testKeyPairsRoundTripThroughZ85() throws {
        let keys = try CurveKeyPair.generate()
        XCTAssertEqual(keys.publicKey.z85.count, 40)
        XCTAssertEqual(try CurveKey(z85: keys.publicKey.z85), keys.publicKey)
        XCTAssertEqual(try CurveKeyPair.publicKey(for: keys.secretKey), keys.publicKey)
        XCTAssertNotEqual(try CurveKeyPair.generate().publicKey, keys.publicKey)
        assertZeroMQError(.invalidArgument) { try CurveKey(z85: "too short") }
        assertZeroMQError(.invalidArgument) { try CurveKey(bytes: [1, 2, 3]) }
    }

    func testClientWithTheServersKeyExchangesMessages() throws {
        let serverKeys = try CurveKeyPair.generate()
        let (server, endpoint) = try curveServer(try Context(), keys: serverKeys)
        let client = try curveClient(try Context(), serverKey: serverKeys.publicKey)
        try client.connect(endpoint)
        try client.send("secret order")
        try server.set(.receiveTimeout(.seconds(5)))
        let request = try server.receiveMultipart()
        XCTAssertEqual(request.last?.string, "secret order")
        try server.send(multipart: [request[0], Frame("secret reply")])
        XCTAssertEqual(try client.receiveStrings(), ["secret reply"])
    }

    func testClientWithAWrongServerKeyGetsNoMessageThrough() throws {
        let serverKeys = try CurveKeyPair.generate()
        let (server, endpoint) = try curveServer(try Context(), keys: serverKeys)
        let impostorKey = try CurveKeyPair.generate().publicKey
        let client = try curveClient(try Context(), serverKey: impostorKey)
        try client.connect(endpoint)
        try client.send("should never arrive", blocking: false)
        XCTAssertFalse(try server.receivesSomething(within: .milliseconds(1500)))
        XCTAssertEqual(server.statistics.framesReceived, 0)
    }

    func testPlainTextClientIsRefusedByACurveServer() throws {
        let (server, endpoint) = try curveServer(try Context(), keys: try CurveKeyPair.generate())
        let plain = try Socket(.dealer, context: try Context())
        try plain.connect(endpoint)
        try plain.send("plain text", blocking: false)
        XCTAssertFalse(try server.receivesSomething(within: .milliseconds(1500)))
    }
}

/// A key pair printed anywhere (interpolation, `dump`, inside another value) never shows its secret.
final class CurveSecretRedactionTests: XCTestCase {
    struct Settings { var keys: CurveKeyPair; var name = "node" }

    func testTheSecretKeyNeverAppearsWhenAKeyPairIsPrinted() throws {
        let keys = try CurveKeyPair.generate()
        let secret = keys.secretKey.z85
        var dumped = ""
        dump(Settings(keys: keys), to: &dumped)
        for text in ["\(keys)", String(reflecting: keys), "\(Settings(keys: keys))", String(reflecting: Settings(keys: keys)), dumped,
                     "\(CurveClientCredentials(keys: keys, serverKey: keys.publicKey))"] {
            XCTAssertFalse(text.contains(secret), "the secret key is in: \(text)")
            XCTAssertTrue(text.contains(keys.publicKey.z85), "the public key is missing from: \(text)")
        }
    }
}
