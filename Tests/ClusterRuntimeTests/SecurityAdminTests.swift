import ClusterCore
import ClusterRuntime
import Crypto
import Foundation
import Ganglion
import GanglionWire
import XCTest

/// ACLs, principals and HTTP tokens managed over the real protocol: changes are committed to the
/// metadata (on a cluster, through the controller leader, reaching every node within a second),
/// bad input is refused with the code of what was wrong, and the node keeps serving.
final class SecurityAdminTests: XCTestCase {
    private var directory = ""
    private let aliceKey = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
    private let bobKey = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"

    override func setUp() {
        directory = NSTemporaryDirectory() + "ganglion-security-admin-" + UUID().uuidString
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func testAclsPrincipalsAndTokensAreAddedListedAndRemoved() async throws {
        let node = try startTestNode(directory)
        defer { node.stop() }
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }

        try await client.addPrincipal("alice", publicKey: aliceKey)
        try await client.addPrincipal("bob", publicKey: bobKey)
        let principals = try await client.listPrincipals()
        XCTAssertEqual(principals, ["alice": aliceKey, "bob": bobKey])

        let readOrders = AclBinding(principal: "alice", resourceType: .topic, resourceName: "orders", operation: .read)
        let denyPayments = AclBinding(principal: "*", resourceType: .topic, patternType: .prefix, resourceName: "payments.",
                                      operation: .write, permission: .deny)
        let bobGroups = AclBinding(principal: "bob", resourceType: .group, patternType: .prefix, resourceName: "billing-", operation: .all)
        let clusterCreate = AclBinding.cluster(principal: "alice", operation: .create)
        for binding in [readOrders, denyPayments, bobGroups, clusterCreate] { try await client.addAcl(binding) }
        let all = try await client.listAcls()
        XCTAssertEqual(all, [clusterCreate, bobGroups, readOrders, denyPayments])
        let alices = try await client.listAcls(principal: "alice")
        XCTAssertEqual(alices, [clusterCreate, readOrders])
        let topics = try await client.listAcls(resourceType: .topic)
        XCTAssertEqual(topics, [readOrders, denyPayments])
        let payments = try await client.listAcls(resourceName: "payments.")
        XCTAssertEqual(payments, [denyPayments])
        try await client.removeAcl(readOrders)
        let remaining = try await client.listAcls()
        XCTAssertEqual(remaining, [clusterCreate, bobGroups, denyPayments])
        XCTAssertEqual(node.metadataState.security.acls, [clusterCreate, bobGroups, denyPayments])

        // A token's secret is returned once; the metadata keeps only its SHA-256.
        let (id, secret) = try await client.createToken(principal: "alice", description: "ci pipeline")
        XCTAssertTrue(secret.hasPrefix("gt_"), secret)
        XCTAssertEqual(secret.count, 3 + 43, "32 bytes in base64url without padding")
        let stored = try XCTUnwrap(node.metadataState.security.tokens[id])
        XCTAssertEqual(stored.secretHash, SHA256.hash(data: Data(secret.utf8)).map { String(format: "%02x", $0) }.joined())
        XCTAssertEqual(node.metadataState.security.principal(forTokenHash: stored.secretHash), "alice")
        let metadataJSON = String(decoding: try JSONEncoder().encode(node.metadataState), as: UTF8.self)
        XCTAssertFalse(metadataJSON.contains(secret), "the secret is never stored")
        let (otherID, otherSecret) = try await client.createToken(principal: "bob")
        XCTAssertNotEqual(otherID, id)
        XCTAssertNotEqual(otherSecret, secret)
        let tokens = try await client.listTokens()
        XCTAssertEqual(Set(tokens.map(\.id)), [id, otherID])
        let listed = try XCTUnwrap(tokens.first { $0.id == id })
        XCTAssertEqual(listed.principal, "alice")
        XCTAssertEqual(listed.description_p, "ci pipeline")
        XCTAssertGreaterThan(listed.createdAtMs, 1_700_000_000_000)

        try await client.revokeToken(otherID)
        let afterRevoke = try await client.listTokens()
        XCTAssertEqual(afterRevoke.map(\.id), [id])
        // Removing a principal revokes its tokens.
        try await client.removePrincipal("alice")
        let afterRemoval = try await client.listTokens()
        XCTAssertTrue(afterRemoval.isEmpty)
        let left = try await client.listPrincipals()
        XCTAssertEqual(left, ["bob": bobKey])
    }

    func testBadSecurityRequestsAreRefusedWithWhatWasWrongAndTheNodeKeepsServing() async throws {
        let node = try startTestNode(directory)
        defer { node.stop() }
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        try await client.addPrincipal("alice", publicKey: aliceKey)
        let before = node.metadataState.security

        func expect(_ code: Ganglion_V1_ErrorCode, _ text: String, _ operation: () async throws -> Void,
                    file: StaticString = #filePath, line: UInt = #line) async {
            do {
                try await operation()
                XCTFail("expected a refusal mentioning \(text)", file: file, line: line)
            } catch let error as GanglionError {
                XCTAssertEqual(error.code, code, "\(error)", file: file, line: line)
                XCTAssertTrue(error.message.contains(text), "\(error) should mention \(text)", file: file, line: line)
            } catch {
                XCTFail("\(error)", file: file, line: line)
            }
        }
        await expect(.invalidConfig, "invalid_principal: principal name \"bad name\"") { try await client.addPrincipal("bad name", publicKey: self.bobKey) }
        await expect(.invalidConfig, "invalid_public_key") { try await client.addPrincipal("bob", publicKey: "too-short") }
        await expect(.invalidConfig, "public_key_in_use: the public key is principal alice's") { try await client.addPrincipal("bob", publicKey: self.aliceKey) }
        await expect(.invalidConfig, "principal_exists: principal alice") { try await client.addPrincipal("alice", publicKey: self.bobKey) }
        await expect(.invalidConfig, "unknown_principal: no principal carol") { try await client.removePrincipal("carol") }
        await expect(.invalidConfig, "unknown_principal: no principal carol") { _ = try await client.createToken(principal: "carol") }
        await expect(.invalidConfig, "unknown_token: no token tok-1") { try await client.revokeToken("tok-1") }
        await expect(.invalidConfig, "unknown_acl") {
            try await client.removeAcl(AclBinding(principal: "alice", resourceType: .topic, resourceName: "orders", operation: .read))
        }
        await expect(.invalidConfig, "invalid_acl: the cluster resource") {
            try await client.addAcl(AclBinding(principal: "alice", resourceType: .cluster, resourceName: "prod", operation: .alter))
        }
        await expect(.invalidConfig, "invalid_principal") {
            try await client.addAcl(AclBinding(principal: "al/ice", resourceType: .topic, resourceName: "orders", operation: .read))
        }
        // Bindings missing a field, and a request naming nothing, are malformed.
        var missingOperation = Ganglion_V1_SecurityRequest()
        missingOperation.addAcl.principal = "alice"
        missingOperation.addAcl.resourceType = .topic
        missingOperation.addAcl.resourceName = "orders"
        await expect(.malformedRequest, "no operation") { _ = try await client.call(.security, missingOperation) }
        var missingType = missingOperation
        missingType.addAcl.operation = .read
        missingType.addAcl.resourceType = .unspecified
        await expect(.malformedRequest, "no resource type") { _ = try await client.call(.security, missingType) }
        await expect(.malformedRequest, "names no") { _ = try await client.call(.security, Ganglion_V1_SecurityRequest()) }

        XCTAssertEqual(node.metadataState.security, before, "nothing refused was applied")
        // The node keeps serving.
        _ = try await client.createTopic("orders", partitions: 1)
        try await client.addAcl(AclBinding(principal: "alice", resourceType: .topic, resourceName: "orders", operation: .read))
        let acls = try await client.listAcls()
        XCTAssertEqual(acls.count, 1)
    }

    func testSecurityRecordsSurviveARestart() async throws {
        var node = try startTestNode(directory)
        let binding = AclBinding(principal: "*", resourceType: .subject, resourceName: "*", operation: .read)
        do {
            let client = try GanglionClient(endpoint: node.endpoints.api)
            defer { client.close() }
            try await client.addPrincipal("alice", publicKey: aliceKey)
            try await client.addAcl(binding)
            _ = try await client.createToken(principal: "alice")
        }
        let before = node.metadataState.security
        node.stop()
        node = try startTestNode(directory)
        defer { node.stop() }
        XCTAssertEqual(node.metadataState.security, before)
        XCTAssertEqual(node.metadataState.security.acls, [binding])
        XCTAssertEqual(node.metadataState.security.tokens.count, 1)
    }

    func testTheWireNumbersOfTheAclEnumsAreSecurityProtos() {
        for operation in AclOperation.allCases {
            XCTAssertEqual(Ganglion_V1_AclOperation(rawValue: operation.wireNumber).map { "\($0)" }, "\(operation)")
        }
        for type in AclResourceType.allCases {
            XCTAssertEqual(Ganglion_V1_AclResourceType(rawValue: type.wireNumber).map { "\($0)" }, "\(type)")
        }
        for pattern in AclPatternType.allCases {
            XCTAssertEqual(Ganglion_V1_AclPatternType(rawValue: pattern.wireNumber).map { "\($0)" }, "\(pattern)")
        }
        for permission in AclPermission.allCases {
            XCTAssertEqual(Ganglion_V1_AclPermission(rawValue: permission.wireNumber).map { "\($0)" }, "\(permission)")
        }
    }

    func testAChangeThroughAnyNodeReachesEveryNodeWithinASecond() async throws {
        let cluster = try TestCluster(voters: 3, root: directory)
        defer { cluster.stopAll() }
        let leader = try await cluster.agreedLeader()
        let follower = try XCTUnwrap(cluster.voterIDs.first { $0 != leader })
        let client = try GanglionClient(endpoint: cluster.api(follower), timeout: .seconds(10))
        defer { client.close() }

        let binding = AclBinding(principal: "alice", resourceType: .topic, patternType: .prefix, resourceName: "orders.", operation: .write)
        try await client.addPrincipal("alice", publicKey: aliceKey)
        try await client.addAcl(binding)
        try await cluster.waitForAll(seconds: 1, "the ACL and principal applied") { node in
            node.metadataState.security.acls == [binding] && node.metadataState.security.principals["alice"] == self.aliceKey
        }
        for node in cluster.nodes.values {
            let authorizer = Authorizer(state: node.metadataState.security, superUsers: [])
            XCTAssertTrue(authorizer.authorize(principal: "alice", operation: .write, resourceType: .topic, name: "orders.eu"))
            XCTAssertEqual(authorizer.principal(forPublicKey: aliceKey), "alice")
        }
        let (id, _) = try await client.createToken(principal: "alice")
        try await cluster.waitForAll(seconds: 1, "the token applied") { $0.metadataState.security.tokens[id]?.principal == "alice" }
        try await client.removeAcl(binding)
        try await cluster.waitForAll(seconds: 1, "the ACL removed") { $0.metadataState.security.acls.isEmpty }
        // Lists are answered by any node from its own metadata.
        for id in cluster.ids {
            let other = try GanglionClient(endpoint: cluster.api(id))
            defer { other.close() }
            let principals = try await other.listPrincipals()
            XCTAssertEqual(principals, ["alice": aliceKey], "node \(id)")
        }
    }
}
