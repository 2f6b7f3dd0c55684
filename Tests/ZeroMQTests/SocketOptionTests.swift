import XCTest
@testable import ZeroMQ

/// Options the cluster needs are set and read back; bad values are clear errors.
final class SocketOptionTests: XCTestCase {
    func testClusterOptionsAreAccepted() throws {
        let context = try Context()
        let router = try Socket(.router, context: context)
        try router.set([
            .sendHighWaterMark(5000), .receiveHighWaterMark(7000), .linger(.milliseconds(250)),
            .routerMandatory(true), .immediate(true), .maxMessageSize(16 << 20),
            .tcpKeepalive(true), .tcpKeepaliveIdle(.seconds(30)), .tcpKeepaliveInterval(.seconds(5)),
            .tcpKeepaliveCount(3), .heartbeatInterval(.seconds(1)), .heartbeatTimeout(.seconds(3)),
            .heartbeatTTL(.seconds(6)), .reconnectInterval(.milliseconds(100)),
            .reconnectIntervalMax(.seconds(5)), .handshakeInterval(.seconds(5)), .ipv6(false),
            .sendTimeout(.seconds(1)), .receiveTimeout(nil),
        ])
        XCTAssertEqual(try router.sendHighWaterMark, 5000)
        XCTAssertEqual(try router.receiveHighWaterMark, 7000)
        XCTAssertEqual(try router.linger, .milliseconds(250))
        XCTAssertEqual(try router.maxMessageSize, 16 << 20)

        let xpub = try Socket(.xpub, context: context)
        try xpub.set([.xpubNoDrop(true), .xpubVerbose(true)])
        for type in SocketType.allCases {
            XCTAssertNoThrow(try Socket(type, context: context), "\(type)")
        }
    }

    func testBoundWildcardEndpointIsReadBack() throws {
        let socket = try Socket(.router, context: try Context())
        let endpoint = try socket.bind(anyLoopbackPort)
        XCTAssertEqual(try socket.lastEndpoint, endpoint)
        let port = Int(endpoint.split(separator: ":").last!)!
        XCTAssertTrue((1...65535).contains(port))
        try socket.unbind(endpoint)
        assertZeroMQError(.endpointNotFound) { try socket.unbind(endpoint) }
    }

    func testBadInputGivesErrorsThatNameWhatWasWrong() throws {
        let context = try Context()
        let socket = try Socket(.dealer, context: context)
        let badEndpoint = assertZeroMQError(.invalidArgument) { try socket.bind("tcp://127.0.0.1") }
        XCTAssertTrue(badEndpoint?.description.contains("bind tcp://127.0.0.1") ?? false)
        assertZeroMQError(.protocolNotSupported) { try socket.connect("carrier-pigeon://coop") }
        let longID = assertZeroMQError(.invalidArgument) { try socket.set(.routingID([UInt8](repeating: 1, count: 300))) }
        XCTAssertTrue(longID?.operation == "set routing id", longID?.operation ?? "")
        let negative = assertZeroMQError(.invalidArgument) { try socket.set(.heartbeatInterval(.milliseconds(-5))) }
        XCTAssertTrue(negative?.message.contains("outside") ?? false)
        assertZeroMQError(.invalidArgument) { try socket.subscribe("x") }

        let occupied = try Socket(.router, context: context)
        let endpoint = try occupied.bind(anyLoopbackPort)
        assertZeroMQError(.addressInUse) { try Socket(.router, context: context).bind(endpoint) }
    }

    func testNonBlockingReceiveOnAnEmptySocketIsWouldBlock() throws {
        let socket = try Socket(.dealer, context: try Context())
        let error = assertZeroMQError(.wouldBlock) { try socket.receiveFrame(blocking: false) }
        XCTAssertEqual(error?.errno, EAGAIN)
        XCTAssertNil(try socket.tryReceiveMultipart())
        XCTAssertNil(try socket.tryReceiveMultipartHead(keeping: 2))
        assertZeroMQError(.wouldBlock) { try socket.receiveMultipart(blocking: false) }
        assertZeroMQError(.wouldBlock) { try socket.receive(blocking: false) { bytes, _ in bytes.count } }
        try socket.set(.receiveTimeout(.milliseconds(50)))
        assertZeroMQError(.wouldBlock) { try socket.receiveFrame() }
        assertZeroMQError(.wouldBlock) { try socket.receiveMultipart() }
    }

    func testCapabilities() {
        XCTAssertTrue(ZeroMQLibrary.version.hasPrefix("4."), ZeroMQLibrary.version)
        XCTAssertTrue(ZeroMQLibrary.hasCurve, "Debian's libzmq is built with libsodium: CURVE must be there")
    }
}
