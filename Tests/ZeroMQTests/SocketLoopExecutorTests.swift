import Dispatch
import Synchronization
import XCTest
@testable import ZeroMQ

/// A loop's thread as a task executor: tasks that prefer it run there, reach its sockets in place,
/// and are not stranded when the loop stops.
final class SocketLoopExecutorTests: XCTestCase {



    func testATaskPreferringTheLoopRunsOnItsThreadAndSendsInPlace() async throws {
        let loop = try SocketLoop(name: "executor", context: try Context())
        defer { loop.stop() }
        let loopThread = try await loop.perform { _ in currentThread() }
        let observed = await Task(executorPreference: loop) { () -> [UInt] in
            var threads = [currentThread()]
            try? await Task.sleep(for: .milliseconds(5))  // resumed through the loop again
            threads.append(currentThread())
            let ran = Mutex(false)
            loop.executeInPlace { _ in ran.withLock { $0 = true } }
            return threads + (ran.withLock { $0 } ? [1] : [0])
        }.value
        let threads = Array(observed.prefix(2)), ranInPlace = observed.last == 1
        XCTAssertEqual(threads, [loopThread, loopThread])
        XCTAssertTrue(ranInPlace, "a command handed over on the loop thread runs before executeInPlace returns")
    }

    func testExecuteInPlaceNeverJumpsCommandsAlreadyHandedOver() throws {
        let loop = try SocketLoop(name: "queued", context: try Context())
        defer { loop.stop() }
        let order = Mutex<[Int]>([])
        let done = DispatchSemaphore(value: 0)
        let gate = DispatchSemaphore(value: 0)
        loop.execute { _ in gate.wait() }  // holds the loop so the next commands wait in the queue
        loop.execute { owner in
            order.withLock { $0.append(1) }
            // Commands are waiting behind this one: running in place would jump the queue.
            loop.executeInPlace { _ in order.withLock { $0.append(3) }; done.signal() }
        }
        loop.execute { _ in order.withLock { $0.append(2) } }
        gate.signal()
        XCTAssertEqual(done.wait(timeout: .now() + 5), .success)
        XCTAssertEqual(order.withLock { $0 }, [1, 2, 3])
    }

    func testCommandsTheLoopQueuesForItselfRunWithoutAWakeUp() throws {
        let loop = try SocketLoop(name: "self", context: try Context())  // no sockets, no timers
        defer { loop.stop() }
        let done = DispatchSemaphore(value: 0)
        loop.execute { _ in
            // Queued from the loop thread while it runs commands: no eventfd write, so the loop
            // must see it before blocking in the poll (which has nothing else to wake it).
            loop.execute { _ in loop.execute { _ in done.signal() } }
        }
        XCTAssertEqual(done.wait(timeout: .now() + 5), .success)
    }

    func testASleepOnTheLoopEndsAtItsDeadlineOnTheLoopThread() async throws {
        let loop = try SocketLoop(name: "sleeper", context: try Context())
        defer { loop.stop() }
        let loopThread = try await loop.perform { _ in currentThread() }
        let woke = await Task(executorPreference: loop) { () -> [UInt] in
            var late: [UInt] = []
            for step in 1...20 {
                let deadline = ContinuousClock.now.advanced(by: .microseconds(150 * step))
                await loop.sleep(until: deadline)
                // Never early, and still on the loop's thread.
                late.append(ContinuousClock.now >= deadline && currentThread() == loopThread ? 0 : 1)
            }
            return late
        }.value
        XCTAssertEqual(woke, Array(repeating: 0, count: 20))
    }

    func testASleeperIsWokenWhenTheLoopStops() async throws {
        let loop = try SocketLoop(name: "stopping", context: try Context())
        let sleeper = Task { await loop.sleep(until: ContinuousClock.now.advanced(by: .seconds(3600))) }
        try await Task.sleep(for: .milliseconds(20))
        loop.stop()
        await sleeper.value  // would hang for an hour if the stop dropped the sleeper's timer
        await loop.sleep(until: ContinuousClock.now.advanced(by: .seconds(3600)))  // a stopped loop returns at once
    }

    func testACancelledSleeperWakesAtOnce() async throws {
        let loop = try SocketLoop(name: "cancel", context: try Context())
        defer { loop.stop() }
        let sleeper = Task(executorPreference: loop) { await loop.sleep(until: ContinuousClock.now.advanced(by: .seconds(3600))) }
        try await Task.sleep(for: .milliseconds(20))
        sleeper.cancel()
        await sleeper.value  // would wait an hour if cancellation were ignored
    }

    func testATaskPreferringAStoppedLoopStillFinishes() async throws {
        let loop = try SocketLoop(name: "stopped", context: try Context())
        loop.stop()
        let value = await Task(executorPreference: loop) { () -> Int in
            try? await Task.sleep(for: .milliseconds(1))
            return 42
        }.value
        XCTAssertEqual(value, 42)
    }
}

/// The calling thread's pthread id.
private func currentThread() -> UInt { UInt(pthread_self()) }
