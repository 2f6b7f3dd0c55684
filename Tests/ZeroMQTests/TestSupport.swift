import Dispatch
import Foundation
import Synchronization
import XCTest
@testable import ZeroMQ

/// A thread started by a test, joined with a bound so a stuck test fails instead of hanging.
final class TestThread: Sendable {
    private let done = DispatchSemaphore(value: 0)
    private let failure = Mutex<(any Error)?>(nil)
    let name: String

    init(_ name: String, _ body: @escaping @Sendable () throws -> Void) {
        self.name = name
        let thread = Thread { [self] in
            do { try body() } catch { failure.withLock { $0 = error } }
            done.signal()
        }
        thread.name = name
        thread.start()
    }

    /// Waits for the thread to end; throws what it threw, or fails after `timeout`.
    func join(timeout: Duration = .seconds(20)) throws {
        let nanoseconds = Int(timeout / .nanoseconds(1))
        guard done.wait(timeout: .now() + .nanoseconds(nanoseconds)) == .success else {
            throw TestFailure("thread \(name) did not finish within \(timeout)")
        }
        if let error = failure.withLock({ $0 }) { throw error }
    }
}

/// A test expectation that did not hold, thrown from helper code and threads.
struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The loopback endpoint with an OS-chosen port; tests never hard-code ports.
let anyLoopbackPort = "tcp://127.0.0.1:*"

/// A probe frame marking the readiness messages that tests skip.
let probeMarker = "probe"

extension Socket {
    /// Receives a multipart message as strings, failing after `timeout`.
    func receiveStrings(timeout: Duration = .seconds(5)) throws -> [String] {
        try set(.receiveTimeout(timeout))
        return try receiveMultipart().map(\.string)
    }

    /// Whether a message arrives within `timeout`.
    func receivesSomething(within timeout: Duration) throws -> Bool {
        var poller = Poller()
        try poller.add(.socket(self))
        return try !poller.poll(timeout: timeout).isEmpty
    }
}

/// Makes sure a SUB connected to a PUB receives what the PUB sends (the slow-joiner problem):
/// the publisher sends probes on `topic` until one arrives. Later probes are skipped by readers.
func awaitSubscription(publisher: Socket, subscriber: Socket, topic: String, timeout: Duration = .seconds(10)) throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        try publisher.send(multipart: [Frame(topic), Frame(probeMarker)], blocking: false)
        if try subscriber.receivesSomething(within: .milliseconds(20)) {
            let message = try subscriber.receiveMultipart()
            if message.count == 2, message[1].string == probeMarker { return }
        }
    }
    throw TestFailure("subscriber did not receive \(topic) within \(timeout)")
}

/// Receives until `count` non-probe messages arrived or nothing came for `quiet`.
func receiveMessages(from socket: Socket, count: Int, quiet: Duration = .seconds(2)) throws -> [[Frame]] {
    var messages: [[Frame]] = []
    while messages.count < count, try socket.receivesSomething(within: quiet) {
        let message = try socket.receiveMultipart()
        if message.count == 2, message[1].string == probeMarker { continue }
        messages.append(message)
    }
    return messages
}

/// Asserts that `body` throws a ``ZeroMQError`` with `code`, and returns it.
@discardableResult
func assertZeroMQError<T>(
    _ code: ZeroMQError.Code, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> T
) -> ZeroMQError? {
    do {
        _ = try body()
        XCTFail("expected a ZeroMQ error \(code), got success", file: file, line: line)
    } catch let error as ZeroMQError {
        XCTAssertEqual(error.code, code, "\(error)", file: file, line: line)
        return error
    } catch {
        XCTFail("expected a ZeroMQ error \(code), got \(error)", file: file, line: line)
    }
    return nil
}
