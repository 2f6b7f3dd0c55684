import ClusterCore
import XCTest

/// Keys land on the partitions Kafka would choose.
final class KeyPartitionerTests: XCTestCase {
    func testMurmur2MatchesKafka() {
        // The vectors of Kafka's UtilsTest.testMurmur2.
        let vectors: [(String, Int32)] = [
            ("21", -973_932_308), ("foobar", -790_332_482), ("a-little-bit-long-string", -985_981_536),
            ("a-little-bit-longer-string", -1_486_304_829), ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971),
            ("abc", 479_470_107),
        ]
        for (key, expected) in vectors {
            XCTAssertEqual(KeyPartitioner.murmur2(Array(key.utf8)), expected, key)
        }
    }

    func testPartitionsAreStableAndInRange() {
        for partitions: Int32 in [1, 3, 12, 1000] {
            for index in 0..<200 {
                let key = Array("account-\(index)".utf8)
                let partition = KeyPartitioner.partition(for: key, partitionCount: partitions)
                XCTAssertTrue((0..<partitions).contains(partition))
                XCTAssertEqual(partition, KeyPartitioner.partition(for: key, partitionCount: partitions))
            }
        }
        // murmur2("foobar") = -790332482 → positive 1357151166 → mod 12 = 6.
        XCTAssertEqual(KeyPartitioner.partition(for: Array("foobar".utf8), partitionCount: 12), 1_357_151_166 % 12)
    }
}
