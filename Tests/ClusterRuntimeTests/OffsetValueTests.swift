@testable import ClusterRuntime
import XCTest

/// The offsets log's values: with the topic id a commit was made on, and as written before ids
/// were recorded (the offset, then the metadata), which still read.
final class OffsetValueTests: XCTestCase {
    func testAValueWithItsTopicIDRoundTrips() {
        let value = OffsetValue(offset: 1_234_567, metadata: "checkpoint ✓", topicID: "6f1c2a9e-0b7d-4c55-9d1e-2f3a4b5c6d7e")
        XCTAssertEqual(value.encoded.first, OffsetValue.withTopicID)
        XCTAssertEqual(OffsetValue(decoding: value.encoded), value)
        let bare = OffsetValue(offset: 7, metadata: "", topicID: nil)
        XCTAssertEqual(OffsetValue(decoding: bare.encoded), bare)
    }

    func testAValueWrittenBeforeTopicIDsStillReads() {
        let old = withUnsafeBytes(of: Int64(42).bigEndian) { Array($0) } + Array("meta".utf8)
        XCTAssertEqual(OffsetValue(decoding: old), OffsetValue(offset: 42, metadata: "meta", topicID: nil))
    }

    func testTruncatedValuesAreNotValues() {
        XCTAssertNil(OffsetValue(decoding: [1, 2, 3]))
        XCTAssertNil(OffsetValue(decoding: [OffsetValue.withTopicID, 0, 0, 0, 0, 0, 0, 0, 5]))
        let cut = Array(OffsetValue(offset: 5, metadata: "", topicID: "abcdef").encoded.dropLast(2))
        XCTAssertNil(OffsetValue(decoding: cut), "an id longer than what is left")
    }
}
