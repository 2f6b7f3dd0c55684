import Synchronization
import XCTest
@testable import ZeroMQ

/// Closing sockets and contexts is bounded, whatever is queued.
final class ShutdownTests: XCTestCase {
    func testCloseWithQueuedMessagesReturnsWithinTheLinger() throws {
        let linger = Duration.milliseconds(200)
        let start = ContinuousClock.now
        do {
            let context = try Context(defaultLinger: linger)
            let dealer = try Socket(.dealer, context: context)
            XCTAssertEqual(try dealer.linger, linger)
            // A peer that never answers: a bound, silent socket from another context.
            let silent = try Socket(.router, context: try Context())
            let endpoint = try silent.bind(anyLoopbackPort)
            silent.close()
            try dealer.connect(endpoint)
            for index in 0..<500 { try dealer.send("queued \(index)", blocking: false) }
            dealer.close()
            // The context terminates here, when its last socket has gone.
        }
        let elapsed = ContinuousClock.now - start
        XCTAssertLessThan(elapsed, linger + .seconds(1), "close took \(elapsed)")
    }

    func testLingerIsNeverUnbounded() throws {
        let socket = try Socket(.pub, context: try Context())
        XCTAssertEqual(try socket.linger, .milliseconds(500))
        assertZeroMQError(.invalidArgument) { try socket.set(.linger(.seconds(-1))) }
    }

    func testContextShutdownWakesABlockedReceiveOnAnotherThread() throws {
        let context = try Context()
        let started = DispatchSemaphore(value: 0)
        let outcome = Mutex<ZeroMQError.Code?>(nil)
        let receiver = TestThread("blocked-receiver") {
            let sub = try Socket(.sub, context: context)
            try sub.subscribe("")
            started.signal()
            do {
                _ = try sub.receiveFrame()
            } catch let error as ZeroMQError {
                outcome.withLock { $0 = error.code }
            }
        }
        started.wait()
        usleep(100_000)
        let start = ContinuousClock.now
        context.shutdown()
        try receiver.join(timeout: .seconds(5))
        XCTAssertEqual(outcome.withLock { $0 }, .contextTerminated)
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(2))
        // New sockets are refused on a shut-down context, with a clear error.
        assertZeroMQError(.contextTerminated) { try Socket(.pub, context: context) }
    }

    func testUsingAClosedSocketIsAClearError() throws {
        let socket = try Socket(.dealer, context: try Context())
        socket.close()
        socket.close()
        let error = assertZeroMQError(.socketClosed) { try socket.send("late") }
        XCTAssertTrue(error?.description.contains("closed") ?? false)
    }
}
