import Synchronization
import XCTest
@testable import ZeroMQ

/// ZAP: the application decides which CURVE clients connect, and names them.
final class ZAPTests: XCTestCase {
    /// A ZAP handler on its own thread: allows the keys in `allowed` (as their user id) and
    /// refuses the rest, until `stop` is set.
    private final class Handler: Sendable {
        final class State: Sendable {
            let stopped = Mutex(false)
            let requests = Mutex<[String]>([])
        }
        let thread: TestThread
        let state = State()
        var requests: [String] { state.requests.withLock { $0 } }

        init(context: Context, allowed: [CurveKey: String]) throws {
            let router = try Socket(.router, context: context)
            _ = try router.bind(ZAP.endpoint)
            try router.set(.receiveTimeout(.milliseconds(50)))
            nonisolated(unsafe) let socket = router
            let state = self.state
            thread = TestThread("zap") {
                while !state.stopped.withLock({ $0 }) {
                    guard let frames = try? socket.receiveMultipart() else { continue }
                    guard let request = ZAP.Request(frames: frames) else { throw TestFailure("not a ZAP request: \(frames)") }
                    state.requests.withLock { $0.append("\(request.domain)/\(request.mechanism)") }
                    let user = request.curvePublicKey.flatMap { allowed[$0] }
                    try socket.send(multipart: request.reply(allowing: user, reason: "unknown key"))
                }
                try socket.close()
            }
        }

        func stop() throws {
            state.stopped.withLock { $0 = true }
            try thread.join()
        }
    }

    override func setUpWithError() throws {
        guard ZeroMQLibrary.hasCurve else {
            throw ZeroMQError(code: .notSupported, message: "libzmq was built without CURVE", operation: "zmq_has(\"curve\")")
        }
    }

    private func client(_ type: SocketType, keys: CurveKeyPair, serverKey: CurveKey) throws -> Socket {
        let socket = try Socket(type, context: try Context())
        try socket.set([.curveServerKey(serverKey), .curvePublicKey(keys.publicKey), .curveSecretKey(keys.secretKey),
                        .handshakeInterval(.seconds(2))])
        return socket
    }

    func testAllowedKeyIsNamedAndUnknownKeyGetsNothing() throws {
        let context = try Context()
        let serverKeys = try CurveKeyPair.generate(), alice = try CurveKeyPair.generate(), mallory = try CurveKeyPair.generate()
        let handler = try Handler(context: context, allowed: [alice.publicKey: "alice"])
        defer { try? handler.stop() }
        let server = try Socket(.router, context: context)
        try server.set([.curveServer(true), .curveSecretKey(serverKeys.secretKey), .zapDomain("test")])
        let endpoint = try server.bind(anyLoopbackPort)

        let intruder = try client(.dealer, keys: mallory, serverKey: serverKeys.publicKey)
        try intruder.connect(endpoint)
        try intruder.send("from mallory", blocking: false)
        let allowed = try client(.dealer, keys: alice, serverKey: serverKeys.publicKey)
        try allowed.connect(endpoint)
        try allowed.send("from alice")

        try server.set(.receiveTimeout(.seconds(5)))
        let request = try server.receiveMultipart()
        XCTAssertEqual(request.last?.string, "from alice")
        XCTAssertEqual(request.last?.userID, "alice")
        XCTAssertFalse(try server.receivesSomething(within: .milliseconds(1000)), "a refused key's message arrived")
        XCTAssertEqual(handler.requests.sorted(), ["test/CURVE", "test/CURVE"])
    }

    func testManualXPubSeesTheSubscribersUserIDAndDecidesWhatItGets() throws {
        let context = try Context()
        let serverKeys = try CurveKeyPair.generate(), alice = try CurveKeyPair.generate(), bob = try CurveKeyPair.generate()
        let handler = try Handler(context: context, allowed: [alice.publicKey: "alice", bob.publicKey: "bob"])
        defer { try? handler.stop() }
        let xpub = try Socket(.xpub, context: context)
        try xpub.set([.curveServer(true), .curveSecretKey(serverKeys.secretKey), .zapDomain("test"), .xpubManual(true)])
        let endpoint = try xpub.bind(anyLoopbackPort)
        try xpub.set(.receiveTimeout(.seconds(5)))

        let aliceSub = try client(.sub, keys: alice, serverKey: serverKeys.publicKey)
        try aliceSub.connect(endpoint)
        try aliceSub.subscribe("orders")
        let subscription = try xpub.receiveMultipart()
        XCTAssertEqual(subscription.first?.bytes, [1] + Array("orders".utf8))
        XCTAssertEqual(subscription.first?.userID, "alice")
        try xpub.subscribe("orders")  // granted: applies to alice's pipe only

        let bobSub = try client(.sub, keys: bob, serverKey: serverKeys.publicKey)
        try bobSub.connect(endpoint)
        try bobSub.subscribe("orders")
        let refused = try xpub.receiveMultipart()
        XCTAssertEqual(refused.first?.userID, "bob")  // refused: nothing applied

        try xpub.send(multipart: [Frame("orders"), Frame("1")])
        XCTAssertEqual(try aliceSub.receiveStrings(), ["orders", "1"])
        XCTAssertFalse(try bobSub.receivesSomething(within: .milliseconds(500)), "a refused subscription got messages")
    }
}
