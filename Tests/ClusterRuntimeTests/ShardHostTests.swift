import ClusterRuntime
import XCTest

/// The shards of an agent type on a host, as the host stops.
final class ShardHostTests: XCTestCase {
    /// A host that is stopping (its shards taken out to drain and commit) makes no shard again,
    /// even while its group still lists the partition: rebuilding one would fence the next
    /// owner's changelog writer a moment before it takes over, and handle events no one commits.
    func testAStoppingHostMakesNoShardAgain() async throws {
        let host = ShardHost()
        _ = await host.removeAll()
        let shard = try await host.obtain(0, isAssigned: { true }) {
            XCTFail("a shard was made after the host stopped")
            throw CancellationError()
        }
        XCTAssertNil(shard)
    }
}
