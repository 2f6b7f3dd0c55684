import Foundation
import Synchronization
import XCTest
@testable import ZeroMQ

/// A loop thread owns its sockets and serves commands from other threads and async code.
final class SocketLoopTests: XCTestCase {
    /// An echo server on a loop: a ROUTER whose handler drains a batch of requests per wake-up.
    private func startEchoServer(on loop: SocketLoop) throws -> String {
        try loop.performAndWait { owner in
            let router = try owner.makeSocket(.router)
            let endpoint = try router.bind(anyLoopbackPort)
            owner.watch(router) { router, _ in
                for _ in 0..<64 {
                    guard let request = try router.tryReceiveMultipart() else { return }
                    try router.send(multipart: request)
                }
            }
            return endpoint
        }
    }

    /// The loop's thread carries its name (without the `ganglion.` prefix, cut to the kernel's 15
    /// bytes), so `top -H`, `perf` and `/proc/PID/task/*/comm` tell a node's socket thread from
    /// the others.
    func testTheLoopThreadIsNamedAfterTheLoop() throws {
        let context = try Context()
        for (name, expected) in [("ganglion.node.api", "node.api"), ("publisher", "publisher"), ("ganglion.a-very-long-loop-name", "a-very-long-loo")] {
            let loop = try SocketLoop(name: name, context: context)
            defer { loop.stop() }
            let comm = try loop.performAndWait { _ in
                (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8))?.trimmingCharacters(in: .newlines)
            }
            XCTAssertEqual(comm, expected, "the thread of loop \(name)")
        }
    }

    func testCommandsFromManyThreadsAreServedByTheOwningThread() throws {
        let context = try Context()
        let loop = try SocketLoop(name: "publisher", context: context)
        defer { loop.stop() }
        let (pubID, endpoint) = try loop.performAndWait { owner in
            let pub = try owner.makeSocket(.pub)
            try pub.set(.sendHighWaterMark(0))
            return (owner.id(of: pub)!, try pub.bind(anyLoopbackPort))
        }
        let sub = try Socket(.sub, context: try Context())
        try sub.set(.receiveHighWaterMark(0))
        try sub.subscribe("")
        try sub.connect(endpoint)
        // Probe through the loop until the subscription is in place.
        var ready = false
        for _ in 0..<500 where !ready {
            loop.execute { owner in try? owner.socket(pubID)?.send(multipart: [Frame("x"), Frame(probeMarker)]) }
            ready = try sub.receivesSomething(within: .milliseconds(10))
        }
        XCTAssertTrue(ready)

        let senders = 8, perSender = 500
        let threads = (0..<senders).map { sender in
            TestThread("sender-\(sender)") {
                for index in 0..<perSender {
                    let accepted = loop.execute { owner in
                        try? owner.socket(pubID)?.send(multipart: [Frame("\(sender)"), Frame("\(index)")])
                    }
                    guard accepted else { throw TestFailure("loop refused a command") }
                }
            }
        }
        for thread in threads { try thread.join() }
        let received = try receiveMessages(from: sub, count: senders * perSender)
        XCTAssertEqual(received.count, senders * perSender)
        // Each sender's commands run in the order it queued them.
        for sender in 0..<senders {
            let mine = received.filter { $0[0].string == "\(sender)" }.map { Int($0[1].string)! }
            XCTAssertTrue(mine == Array(0..<perSender), "sender \(sender): \(mine.count) messages, out of order or missing")
        }
    }

    func testAsyncCallersCrossIntoTheLoopAndBack() async throws {
        let loop = try SocketLoop(name: "echo", context: try Context())
        defer { loop.stop() }
        let endpoint = try startEchoServer(on: loop)
        let client = try SocketLoop(name: "client", context: try Context())
        defer { client.stop() }
        let dealerID = try await client.perform { owner in
            let dealer = try owner.makeSocket(.dealer)
            try dealer.set(.receiveTimeout(.seconds(5)))
            try dealer.connect(endpoint)
            return owner.id(of: dealer)!
        }
        let replies = try await client.perform { owner in
            let dealer = owner.socket(dealerID)!
            for index in 0..<100 { try dealer.send("ping \(index)") }
            return try (0..<100).map { _ in try dealer.receiveFrame().string }
        }
        XCTAssertEqual(replies, (0..<100).map { "ping \($0)" })
    }

    func testTimersRunOnTheLoopThreadInDeadlineOrder() throws {
        let loop = try SocketLoop(name: "timers", context: try Context())
        defer { loop.stop() }
        let fired = Mutex<[Int]>([])
        let done = DispatchSemaphore(value: 0)
        try loop.performAndWait { owner in
            owner.schedule(after: .milliseconds(60)) { _ in fired.withLock { $0.append(3) }; done.signal() }
            owner.schedule(after: .milliseconds(20)) { _ in fired.withLock { $0.append(1) } }
            let cancelled = owner.schedule(after: .milliseconds(30)) { _ in fired.withLock { $0.append(99) } }
            owner.schedule(after: .milliseconds(40)) { _ in fired.withLock { $0.append(2) } }
            owner.cancel(cancelled)
        }
        XCTAssertEqual(done.wait(timeout: .now() + 5), .success)
        XCTAssertEqual(fired.withLock { $0 }, [1, 2, 3])
    }

    func testStopClosesTheSocketsAndRefusesLaterWork() async throws {
        let context = try Context()
        let loop = try SocketLoop(name: "stopping", context: context)
        let endpoint = try startEchoServer(on: loop)
        let start = ContinuousClock.now
        loop.stop()
        loop.stop()
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(2))
        XCTAssertTrue(loop.isStopped)
        XCTAssertFalse(loop.execute { _ in })
        do {
            _ = try await loop.perform { _ in 1 }
            XCTFail("perform on a stopped loop must fail")
        } catch let error as ZeroMQError {
            XCTAssertEqual(error.code, .socketClosed)
            XCTAssertTrue(error.description.contains("stopping"), error.description)
        }
        // The endpoint comes free: its socket was closed (libzmq releases the port asynchronously).
        let rebound = try Socket(.router, context: context)
        let deadline = ContinuousClock.now + .seconds(2)
        while true {
            do {
                try rebound.bind(endpoint)
                break
            } catch let error as ZeroMQError where error.code == .addressInUse && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
        }
    }

    func testAHandlerErrorIsLoggedAndTheLoopKeepsServing() throws {
        let loop = try SocketLoop(name: "faulty", context: try Context())
        defer { loop.stop() }
        let endpoint = try loop.performAndWait { owner in
            let router = try owner.makeSocket(.router)
            let endpoint = try router.bind(anyLoopbackPort)
            owner.watch(router) { router, _ in
                let request = try router.receiveMultipart()
                if request[1].string == "bad" { throw TestFailure("bad request") }
                try router.send(multipart: request)
            }
            return endpoint
        }
        let dealer = try Socket(.dealer, context: try Context())
        try dealer.connect(endpoint)
        try dealer.send("bad")
        try dealer.send("good")
        XCTAssertEqual(try dealer.receiveStrings(), ["good"])
    }
}
