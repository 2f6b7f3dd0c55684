import ClusterRuntime
import Foundation
import GanglionClients
import XCTest

/// Once `Node.stop()` returns, the node writes nothing more to its data directory: a process
/// embedding it may remove or move the directory, or open another node on it, at once. (A node
/// whose background work kept creating partitions and checkpoints after its stop made such a
/// removal fail half-way and left a partial directory behind.)
final class NodeStopTests: XCTestCase {
    func testAStoppedNodeWritesNothingMoreWhileTopicsWereBeingCreated() async throws {
        for round in 0..<12 {
            let directory = NSTemporaryDirectory() + "ganglion-stop-" + UUID().uuidString
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let node = try startTestNode(directory)
            let client = try GanglionClient(endpoint: node.endpoints.api, timeout: .seconds(2))
            defer { client.close() }
            try await client.createTopic("first", partitions: 4)
            // Topics being created (and their partitions opened) while the node stops.
            let creating = Task {
                for index in 0..<40 { try? await client.createTopic("late-\(index)", partitions: 4) }
            }
            try await Task.sleep(for: .milliseconds(5 + 3 * round))
            node.stop()
            let atStop = Self.tree(directory)
            try await Task.sleep(for: .milliseconds(300))
            let later = Self.tree(directory)
            let changed = Set(later.keys).union(atStop.keys).filter { later[$0] != atStop[$0] }.sorted()
            XCTAssertEqual(changed, [], "round \(round): these changed after stop() returned")
            client.close()
            _ = await creating.value
            try FileManager.default.removeItem(atPath: directory)
            XCTAssertFalse(FileManager.default.fileExists(atPath: directory), "round \(round): the directory was removed whole")
        }
    }

    /// Every file and directory under `directory`, with each file's size.
    static func tree(_ directory: String) -> [String: Int] {
        guard let walker = FileManager.default.enumerator(atPath: directory) else { return [:] }
        var entries: [String: Int] = [:]
        while let path = walker.nextObject() as? String {
            let attributes = try? FileManager.default.attributesOfItem(atPath: directory + "/" + path)
            entries[path] = attributes?[.type] as? FileAttributeType == .typeDirectory ? -1 : (attributes?[.size] as? Int ?? -2)
        }
        return entries
    }
}
