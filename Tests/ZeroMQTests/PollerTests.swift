import CZeroMQ
import XCTest
@testable import ZeroMQ

/// The poller waits on each socket's `ZMQ_FD`, whose signal any operation on the socket can take.
final class PollerTests: XCTestCase {
    func testAMessageWhoseSignalASendTookIsStillReported() throws {
        let context = try Context()
        let router = try Socket(.router, context: context)
        let address = try router.bind(anyLoopbackPort)
        let dealer = try Socket(.dealer, context: context)
        try dealer.connect(address)
        var poller = Poller()
        try poller.add(.socket(router))
        XCTAssertTrue(try poller.poll(timeout: .zero).isEmpty)
        try dealer.send("request")
        // The message is in when the router's descriptor signals (the router is not touched).
        var descriptor = pollfd(fd: try router.int32Option(ZMQ_FD, name: "fd"), events: Int16(POLLIN), revents: 0)
        XCTAssertEqual(poll(&descriptor, 1, 5000), 1)
        // A send takes in the socket's pending commands (at most once a millisecond or so), and
        // the descriptor's signal with them: the message now waits with the descriptor quiet.
        usleep(5000)
        try router.send(multipart: [Frame("nobody"), Frame("dropped")])
        descriptor.revents = 0
        XCTAssertEqual(poll(&descriptor, 1, 0), 0, "the send did not take the signal: this run proves nothing")
        XCTAssertEqual(try poller.poll(timeout: .milliseconds(500)).map(\.index), [0])
        XCTAssertEqual(try router.tryReceiveMultipart()?.last?.string, "request")
    }

    func testPlainDescriptorsAndSocketsAreReportedTogether() throws {
        let context = try Context()
        let router = try Socket(.router, context: context)
        let address = try router.bind(anyLoopbackPort)
        let dealer = try Socket(.dealer, context: context)
        try dealer.connect(address)
        let wake = try WakeSignal()
        var poller = Poller()
        try poller.add(.fileDescriptor(wake.fileDescriptor))
        try poller.add(.socket(router))
        XCTAssertTrue(try poller.poll(timeout: .milliseconds(20)).isEmpty)
        wake.wake()
        XCTAssertEqual(try poller.poll(timeout: .seconds(5)).map(\.index), [0])
        wake.drain()
        try dealer.send("event")
        XCTAssertEqual(try poller.poll(timeout: .seconds(5)).map(\.index), [1])
        XCTAssertEqual(try router.tryReceiveMultipart()?.last?.string, "event")
        XCTAssertTrue(try poller.poll(timeout: .milliseconds(20)).isEmpty)
    }

    func testASignalWithoutAMessageDoesNotCutTheWaitShort() throws {
        let context = try Context()
        let router = try Socket(.router, context: context)
        let address = try router.bind(anyLoopbackPort)
        var poller = Poller()
        try poller.add(.socket(router))
        XCTAssertTrue(try poller.poll(timeout: .zero).isEmpty)
        // A peer connecting gives the router commands (its descriptor signals) but no message.
        let dealer = try Socket(.dealer, context: context)
        try dealer.connect(address)
        let start = ContinuousClock.now
        XCTAssertTrue(try poller.poll(timeout: .milliseconds(300)).isEmpty)
        XCTAssertGreaterThanOrEqual(ContinuousClock.now - start, .milliseconds(290))
    }
}
