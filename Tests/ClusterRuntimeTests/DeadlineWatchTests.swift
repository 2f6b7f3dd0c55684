@testable import ClusterRuntime
import Foundation
import XCTest

/// An attempt's deadline and its abandonment as one two-stage watch: the first stage fires at the
/// deadline (and `end` then says so), the second at the later instant unless ended first; a watch
/// ended before its deadline fires neither.
final class DeadlineWatchTests: XCTestCase {
    final class Calls: @unchecked Sendable {
        private let lock = NSLock()
        private var names: [String] = []
        func add(_ name: String) { lock.withLock { names.append(name) } }
        var all: [String] { lock.withLock { names } }
    }

    func testTwoStagesFireInTurnAndEndingStopsTheRest() async throws {
        let watch = DeadlineWatch(), calls = Calls()
        let now = ContinuousClock.now
        let both = watch.watch(until: now + .milliseconds(20), expire: { calls.add("both.expire") },
                               thenUntil: now + .milliseconds(60)) { calls.add("both.abandon") }
        let first = watch.watch(until: now + .milliseconds(20), expire: { calls.add("first.expire") },
                                thenUntil: now + .seconds(30)) { calls.add("first.abandon") }
        let never = watch.watch(until: now + .seconds(30), expire: { calls.add("never.expire") },
                                thenUntil: now + .seconds(60)) { calls.add("never.abandon") }
        XCTAssertFalse(watch.end(never), "ended before its deadline: nothing fired")
        try await Task.sleep(for: .milliseconds(200))
        XCTAssertTrue(watch.end(first), "its first stage fired")
        XCTAssertTrue(watch.end(both))
        try await Task.sleep(for: .milliseconds(50))
        XCTAssertEqual(Set(calls.all), ["both.expire", "both.abandon", "first.expire"])
        XCTAssertLessThan(calls.all.firstIndex(of: "both.expire")!, calls.all.firstIndex(of: "both.abandon")!)
    }
}
