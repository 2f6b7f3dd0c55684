import XCTest
@testable import Ganglion

/// The decoded-state cache hands a value back only for exactly the bytes it was kept with, forgets
/// a key kept as nil, never keeps class states, and stays within its bound.
final class DecodedStatesTests: XCTestCase {
    private struct Counter: Sendable, Equatable { var count: Int }
    private final class Shared: @unchecked Sendable { var count = 0 }

    func testAValueComesBackOnlyForTheBytesItWasKeptWith() {
        let cache = DecodedStates<Counter>()
        XCTAssertNil(cache.state(of: "a", storedAs: [1]))
        cache.keep(Counter(count: 1), of: "a", storedAs: [1])
        cache.keep(Counter(count: 2), of: "b", storedAs: [2])
        XCTAssertEqual(cache.state(of: "a", storedAs: [1]), Counter(count: 1))
        XCTAssertEqual(cache.state(of: "b", storedAs: [2]), Counter(count: 2))
        XCTAssertNil(cache.state(of: "a", storedAs: [1, 0]), "other bytes: decoded afresh")
        cache.keep(Counter(count: 3), of: "a", storedAs: [3])
        XCTAssertNil(cache.state(of: "a", storedAs: [1]))
        XCTAssertEqual(cache.state(of: "a", storedAs: [3]), Counter(count: 3))
        cache.keep(nil, of: "a", storedAs: [3])
        XCTAssertNil(cache.state(of: "a", storedAs: [3]), "a nil state forgets the key")
        cache.keep(Counter(count: 4), of: "b", storedAs: nil)
        XCTAssertNil(cache.state(of: "b", storedAs: [2]), "no bytes forgets the key")
    }

    func testClassStatesAreNeverKept() {
        let cache = DecodedStates<Shared>()
        cache.keep(Shared(), of: "a", storedAs: [1])
        XCTAssertNil(cache.state(of: "a", storedAs: [1]))
    }

    func testTheCacheStaysWithinItsBound() {
        let cache = DecodedStates<Counter>(limit: 8, stripes: 2)
        for index in 0..<100 { cache.keep(Counter(count: index), of: "k\(index)", storedAs: [UInt8(index)]) }
        let kept = (0..<100).filter { cache.state(of: "k\($0)", storedAs: [UInt8($0)]) != nil }
        XCTAssertLessThanOrEqual(kept.count, 8)
        XCTAssertFalse(kept.isEmpty)
        for index in kept { XCTAssertEqual(cache.state(of: "k\(index)", storedAs: [UInt8(index)]), Counter(count: index)) }
    }
}
