import CZeroMQ
import XCTest
@testable import ZeroMQ

/// The poller waits on each socket's `ZMQ_FD`, whose signal any operation on the socket can take.
final class PollerTests: XCTestCase {
    /// A ROUTER with a connected DEALER whose connection is up (a first message went through and
    /// was taken), so what the DEALER sends next is all the ROUTER's descriptor will announce.
    private func connectedPair(_ context: Context) throws -> (router: Socket, dealer: Socket) {
        let router = try Socket(.router, context: context)
        let dealer = try Socket(.dealer, context: context)
        try dealer.connect(try router.bind(anyLoopbackPort))
        try dealer.send("hello")
        try router.set(.receiveTimeout(.seconds(5)))
        XCTAssertEqual(try router.receiveMultipart().last?.string, "hello")
        return (router, dealer)
    }

    /// A socket's `ZMQ_FD` (read once: reading it is itself an operation on the socket).
    private func descriptor(_ socket: Socket) throws -> Int32 { try socket.int32Option(ZMQ_FD, name: "fd") }

    /// Waits, without touching the socket, until its descriptor `fd` signals.
    private func awaitSignal(_ fd: Int32) {
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        XCTAssertEqual(poll(&descriptor, 1, 5000), 1, "the descriptor did not signal within 5 s")
    }

    func testAMessageWhoseSignalASendTookIsStillReported() throws {
        let (router, dealer) = try connectedPair(try Context())
        let fd = try descriptor(router)
        var poller = Poller()
        try poller.add(.socket(router))
        XCTAssertTrue(try poller.poll(timeout: .zero).isEmpty)
        try dealer.send("request")
        awaitSignal(fd)
        // A send takes in the socket's pending commands (at most once a millisecond or so), and
        // the descriptor's signal with them: the message now waits with the descriptor quiet.
        usleep(5000)
        try router.send(multipart: [Frame("nobody"), Frame("dropped")])
        var quiet = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        XCTAssertEqual(poll(&quiet, 1, 0), 0, "the send did not take the signal: this run proves nothing")
        XCTAssertEqual(try poller.poll(timeout: .milliseconds(500)).map(\.index), [0])
        XCTAssertEqual(try router.tryReceiveMultipart()?.last?.string, "request")
    }

    func testADescriptorAndASocketReadyTogetherAreReportedTogether() throws {
        let (router, dealer) = try connectedPair(try Context())
        let fd = try descriptor(router)
        let wake = try WakeSignal()
        var poller = Poller()
        try poller.add(.fileDescriptor(wake.fileDescriptor))
        try poller.add(.socket(router))
        XCTAssertTrue(try poller.poll(timeout: .milliseconds(20)).isEmpty)
        wake.wake()
        try dealer.send("event")
        awaitSignal(fd)
        XCTAssertEqual(try poller.poll(timeout: .seconds(5)).map(\.index).sorted(), [0, 1])
        wake.drain()
        XCTAssertEqual(try router.tryReceiveMultipart()?.last?.string, "event")
        XCTAssertTrue(try poller.poll(timeout: .milliseconds(20)).isEmpty)
    }

    func testASocketThatAlwaysHasMoreDoesNotHideAnother() throws {
        let context = try Context()
        let (busy, busyDealer) = try connectedPair(context)
        let (other, otherDealer) = try connectedPair(context)
        let (busyFD, otherFD) = (try descriptor(busy), try descriptor(other))
        var poller = Poller()
        try poller.add(.socket(busy))
        try poller.add(.socket(other))
        XCTAssertTrue(try poller.poll(timeout: .zero).isEmpty)
        try busyDealer.send("first")
        try busyDealer.send("second")
        awaitSignal(busyFD)
        usleep(20_000)  // both messages in
        XCTAssertEqual(try poller.poll(timeout: .seconds(5)).map(\.index), [0])
        // One of the busy socket's two messages is taken: it is used, and still has one.
        XCTAssertEqual(try busy.tryReceiveMultipart()?.last?.string, "first")
        try otherDealer.send("waiting")
        awaitSignal(otherFD)
        XCTAssertEqual(try poller.poll(timeout: .seconds(5)).map(\.index).sorted(), [0, 1])
    }

    func testASignalWithoutAMessageDoesNotCutTheWaitShort() throws {
        let context = try Context()
        let router = try Socket(.router, context: context)
        let address = try router.bind(anyLoopbackPort)
        let fd = try descriptor(router)
        var poller = Poller()
        try poller.add(.socket(router))
        XCTAssertTrue(try poller.poll(timeout: .zero).isEmpty)
        // A peer connecting gives the router commands (its descriptor signals) but no message.
        let dealer = try Socket(.dealer, context: context)
        try dealer.connect(address)
        awaitSignal(fd)
        let start = ContinuousClock.now
        XCTAssertTrue(try poller.poll(timeout: .milliseconds(300)).isEmpty)
        XCTAssertGreaterThanOrEqual(ContinuousClock.now - start, .milliseconds(290))
    }
}
