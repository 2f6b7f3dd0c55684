import Foundation
import GanglionTestKit
import XCTest
@testable import EventLog

/// A fresh temporary directory, removed when the test ends.
func temporaryLogDirectory(_ test: XCTestCase, file: StaticString = #filePath) -> String {
    let path = NSTemporaryDirectory() + "ganglion-log-" + UUID().uuidString
    test.addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
    return path
}

/// A clock the test moves by hand (milliseconds).
final class ManualClock: @unchecked Sendable {
    // Only read and written from the test's own thread.
    var now: Int64
    init(_ now: Int64 = 1_000_000) { self.now = now }
    var function: @Sendable () -> Int64 { { [unowned self] in self.now } }
}

/// A batch of `count` records with keys `k<i>` and values `v<i>` (first index `from`).
func batch(_ count: Int, from first: Int = 0, timestamp: Int64 = 1_000, valueSize: Int = 8) -> [UInt8] {
    var builder = RecordBatchBuilder()
    for index in first..<(first + count) {
        let value = Array("v\(index)-".utf8) + [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: valueSize)
        builder.append(key: Array("k\(index)".utf8), value: value, timestamp: timestamp + Int64(index))
    }
    return builder.build()
}

/// Asserts that `body` throws a ``LogError`` with `code`, and returns it.
@discardableResult
func assertLogError<T>(_ code: LogError.Code, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> T) -> LogError? {
    do {
        _ = try body()
        XCTFail("expected a log error \(code), got success", file: file, line: line)
    } catch let error as LogError {
        XCTAssertEqual(error.code, code, "\(error)", file: file, line: line)
        return error
    } catch {
        XCTFail("expected a log error \(code), got \(error)", file: file, line: line)
    }
    return nil
}

/// Flips one byte of a file.
func flipByte(in path: String, at position: Int) throws {
    let handle = try XCTUnwrap(FileHandle(forUpdatingAtPath: path))
    defer { try? handle.close() }
    try handle.seek(toOffset: UInt64(position))
    let byte = try XCTUnwrap(handle.read(upToCount: 1)).first!
    try handle.seek(toOffset: UInt64(position))
    handle.write(Data([byte ^ 0xFF]))
}
