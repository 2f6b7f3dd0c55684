import XCTest
@testable import ZeroMQ

/// Frames own their bytes, share them when forwarded, and enforce limits.
final class FrameTests: XCTestCase {
    func testFramesHoldWhatTheyWereMadeFrom() throws {
        XCTAssertEqual(Frame("héllo").string, "héllo")
        XCTAssertEqual(Frame([1, 2, 3]).bytes, [1, 2, 3])
        XCTAssertTrue(Frame().isEmpty)
        let written = try Frame(count: 4) { buffer in
            for index in buffer.indices { buffer[index] = UInt8(index * 2) }
        }
        XCTAssertEqual(written.bytes, [0, 2, 4, 6])
        XCTAssertEqual(Frame("a"), Frame([UInt8(ascii: "a")]))
        XCTAssertNotEqual(Frame("a"), Frame("b"))
    }

    func testAReceivedFrameIsForwardedWithoutCopyingItsBytes() throws {
        let context = try Context()
        let upstream = try Socket(.pair, context: context)
        try upstream.bind("inproc://upstream")
        let relayIn = try Socket(.pair, context: context)
        try relayIn.connect("inproc://upstream")
        let relayOut = try Socket(.pair, context: context)
        try relayOut.bind("inproc://downstream")
        let downstream = try Socket(.pair, context: context)
        try downstream.connect("inproc://downstream")

        let original = try Frame(count: 1 << 20) { buffer in buffer.initializeMemory(as: UInt8.self, repeating: 42) }
        try upstream.send(original)
        let relayed = try relayIn.receiveFrame()
        try relayOut.send(relayed)
        try relayOut.send(relayed)  // the same frame can be sent again: it stays valid
        let first = try downstream.receiveFrame(), second = try downstream.receiveFrame()

        // One buffer all the way: inproc passes messages by reference, and sending shares it.
        let address = original.withUnsafeBytes { $0.baseAddress }
        XCTAssertEqual(relayed.withUnsafeBytes { $0.baseAddress }, address)
        XCTAssertEqual(first.withUnsafeBytes { $0.baseAddress }, address)
        XCTAssertEqual(second.withUnsafeBytes { $0.baseAddress }, address)
        XCTAssertEqual(first, original)
        XCTAssertEqual(original.count, 1 << 20)
    }

    func testBorrowedReceiveLendsTheBytesAndTheMoreFlag() throws {
        let context = try Context()
        let a = try Socket(.pair, context: context), b = try Socket(.pair, context: context)
        try a.bind("inproc://borrow")
        try b.connect("inproc://borrow")
        try a.send(multipart: [Frame("head"), Frame("tail")])
        let head = try b.receive { bytes, more in (String(decoding: bytes, as: UTF8.self), more) }
        let tail = try b.receive { bytes, more in (String(decoding: bytes, as: UTF8.self), more) }
        XCTAssertEqual(head.0, "head")
        XCTAssertTrue(head.1)
        XCTAssertEqual(tail.0, "tail")
        XCTAssertFalse(tail.1)
    }

    func testTooManyFramesAreRefusedAndTheSocketStaysUsable() throws {
        let context = try Context()
        let a = try Socket(.pair, context: context), b = try Socket(.pair, context: context)
        try a.bind("inproc://limits")
        try b.connect("inproc://limits")
        try a.send(multipart: (0..<10).map { Frame("\($0)") })
        try a.send("next")
        let error = assertZeroMQError(.messageTooLarge) { try b.receiveMultipart(maxFrames: 4) }
        XCTAssertTrue(error?.message.contains("10 frames") ?? false, error?.message ?? "")
        XCTAssertEqual(try b.receiveStrings(), ["next"])
        assertZeroMQError(.invalidArgument) { try a.send(multipart: []) }
    }

    func testAPeerSendingMoreThanMaxMessageSizeIsDisconnected() throws {
        let server = try Socket(.router, context: try Context())
        try server.set(.maxMessageSize(1024))
        let endpoint = try server.bind(anyLoopbackPort)
        let client = try Socket(.dealer, context: try Context())
        try client.connect(endpoint)
        try client.send([UInt8](repeating: 0, count: 4096))
        XCTAssertFalse(try server.receivesSomething(within: .milliseconds(500)))
    }
}
