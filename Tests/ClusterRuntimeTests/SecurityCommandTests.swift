import ClusterCore
import ClusterRuntime
import Foundation
import Ganglion
import XCTest

/// `ganglion acl` and `ganglion security principal|token` against a node: what they change is in
/// the node's metadata, lists print tables or JSON, a token's secret is printed once with a
/// warning, and bad input fails with the reason.
final class SecurityCommandTests: XCTestCase {
    private var directory = ""
    private let aliceKey = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"

    override func setUp() {
        directory = NSTemporaryDirectory() + "ganglion-security-cli-" + UUID().uuidString
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func testAclsPrincipalsAndTokensThroughTheCLI() throws {
        let node = try startTestNode(directory + "/node")
        defer { node.stop() }
        let executable = try ganglionExecutable(self)
        let api = ["--node", node.endpoints.api]
        func run(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> String {
            let (status, output) = try runProcess(executable, arguments + api)
            XCTAssertEqual(status, 0, "ganglion \(arguments.joined(separator: " ")): \(output)", file: file, line: line)
            return output
        }

        // A principal from a key file as `security keygen` writes it.
        let keyFile = directory + "/alice.pub"
        try Data("# Ganglion CURVE public key of alice. Not secret.\npublic-key = \(aliceKey)\n".utf8).write(to: URL(fileURLWithPath: keyFile))
        XCTAssertTrue(try run(["security", "principal", "add", "alice", "--public-key-file", keyFile]).contains("added principal alice"))
        XCTAssertEqual(node.metadataState.security.principals["alice"], aliceKey)
        let principals = try run(["security", "principal", "list", "--json"])
        XCTAssertEqual(try JSONSerialization.jsonObject(with: Data(principals.utf8)) as? [[String: String]], [["name": "alice", "publicKey": aliceKey]])

        // One binding per --operation; --deny, --prefix.
        let added = try run(["acl", "add", "--principal", "alice", "--operation", "read", "--operation", "write", "--topic", "orders."] + ["--prefix"])
        XCTAssertTrue(added.contains("added allow alice read topic:orders.*"), added)
        _ = try run(["acl", "add", "--principal", "*", "--deny", "--operation", "all", "--subject", "secrets"])
        _ = try run(["acl", "add", "--principal", "alice", "--operation", "create", "--cluster"])
        XCTAssertEqual(node.metadataState.security.acls.count, 4)
        let table = try run(["acl", "list", "--principal", "alice"])
        XCTAssertTrue(table.hasPrefix("PRINCIPAL"), table)
        XCTAssertEqual(table.split(separator: "\n").count, 4, table)
        let json = try run(["acl", "list", "--subject", "secrets", "--json"])
        let listed = try JSONDecoder().decode([AclBinding].self, from: Data(json.utf8))
        XCTAssertEqual(listed, [AclBinding(principal: "*", resourceType: .subject, resourceName: "secrets", operation: .all, permission: .deny)])
        _ = try run(["acl", "remove", "--principal", "alice", "--operation", "write", "--topic", "orders.", "--prefix"])
        XCTAssertEqual(node.metadataState.security.acls.count, 3)

        // The secret is printed once, with a warning; lists never show it.
        let created = try run(["security", "token", "create", "--principal", "alice", "--description", "ci"])
        XCTAssertTrue(created.contains("is not shown again"), created)
        let secret = try XCTUnwrap(created.split(separator: "\n").first { $0.hasPrefix("gt_") }.map(String.init))
        let id = try XCTUnwrap(node.metadataState.security.tokens.keys.first)
        let tokens = try run(["security", "token", "list"])
        XCTAssertTrue(tokens.contains(id) && tokens.contains("alice") && tokens.contains("ci"), tokens)
        XCTAssertFalse(tokens.contains(secret))
        _ = try run(["security", "token", "revoke", id])
        XCTAssertTrue(node.metadataState.security.tokens.isEmpty)

        // Bad input fails with the reason.
        let unknown = try runProcess(executable, ["security", "token", "create", "--principal", "nobody"] + api)
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssertTrue(unknown.output.contains("unknown_principal"), unknown.output)
        let noResource = try runProcess(executable, ["acl", "add", "--principal", "alice", "--operation", "read"] + api)
        XCTAssertNotEqual(noResource.status, 0)
        XCTAssertTrue(noResource.output.contains("name the resource"), noResource.output)
        let badOperation = try runProcess(executable, ["acl", "add", "--principal", "alice", "--operation", "fly", "--topic", "t"] + api)
        XCTAssertTrue(badOperation.output.contains("--operation fly is not one of"), badOperation.output)
        let twoResources = try runProcess(executable, ["acl", "list", "--topic", "t", "--group", "g"] + api)
        XCTAssertTrue(twoResources.output.contains("name one resource"), twoResources.output)
        _ = try run(["security", "principal", "remove", "alice"])
        XCTAssertTrue(node.metadataState.security.principals.isEmpty)
    }
}
