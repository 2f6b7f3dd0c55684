import ClusterCore
import XCTest

/// The authorizer follows Kafka's semantics: deny wins, no allow refuses, super users pass,
/// `all` and `*` match everything, prefixes match names starting with them, and an allow of
/// read, write, delete or alter also grants describe.
final class AuthorizerTests: XCTestCase {
    private static let bindings: [AclBinding] = [
        AclBinding(principal: "alice", resourceType: .topic, resourceName: "orders", operation: .read),
        AclBinding(principal: "alice", resourceType: .topic, patternType: .prefix, resourceName: "payments.", operation: .write),
        AclBinding(principal: "alice", resourceType: .topic, resourceName: "payments.audit", operation: .write, permission: .deny),
        AclBinding(principal: "*", resourceType: .topic, patternType: .prefix, resourceName: "payments.", operation: .delete, permission: .deny),
        AclBinding(principal: "bob", resourceType: .group, patternType: .prefix, resourceName: "billing-", operation: .all),
        AclBinding(principal: "bob", resourceType: .subject, resourceName: "orders-value", operation: .read),
        AclBinding(principal: "carol", resourceType: .topic, resourceName: "*", operation: .all),
        AclBinding(principal: "carol", resourceType: .topic, resourceName: "secrets", operation: .read, permission: .deny),
        AclBinding(principal: "*", resourceType: .topic, resourceName: "public", operation: .read),
        AclBinding.cluster(principal: "alice", operation: .create),
    ]

    private func authorizer(superUsers: Set<String> = ["admin"]) throws -> Authorizer {
        var state = SecurityState()
        for binding in Self.bindings {
            try state.validate(.aclAdded(binding))
            state.apply(.aclAdded(binding))
        }
        return Authorizer(state: state, superUsers: superUsers)
    }

    func testTheMatrixOfPrincipalsResourcesAndOperations() throws {
        let authorizer = try authorizer()
        let cases: [(String, AclOperation, AclResourceType, String, Bool, String)] = [
            ("alice", .read, .topic, "orders", true, "a literal allow"),
            ("alice", .write, .topic, "orders", false, "no allow for the operation"),
            ("alice", .read, .topic, "orders-eu", false, "a literal is not a prefix"),
            ("alice", .describe, .topic, "orders", true, "read implies describe"),
            ("alice", .write, .topic, "payments.eu", true, "a prefix allow"),
            ("alice", .describe, .topic, "payments.eu", true, "write implies describe"),
            ("alice", .write, .topic, "payments", false, "the prefix is longer than the name"),
            ("alice", .write, .topic, "payments.audit", false, "a literal deny wins over a prefix allow"),
            ("alice", .describe, .topic, "payments.audit", true, "denying write does not deny describe"),
            ("alice", .delete, .topic, "payments.eu", false, "a deny for every principal"),
            ("alice", .create, .cluster, "*", true, "a cluster allow"),
            ("alice", .create, .cluster, "", true, "the cluster matches whatever name the caller gives"),
            ("alice", .alter, .cluster, "*", false, "create on the cluster is not alter"),
            ("alice", .read, .group, "billing-1", false, "ACLs of another principal"),
            ("bob", .read, .group, "billing-1", true, "all on a prefix"),
            ("bob", .alter, .group, "billing-eu", true, "all on a prefix"),
            ("bob", .read, .group, "shipping", false, "outside the prefix"),
            ("bob", .read, .topic, "billing-1", false, "the prefix is for groups, not topics"),
            ("bob", .read, .subject, "orders-value", true, "a subject allow"),
            ("bob", .write, .subject, "orders-value", false, "read is not write"),
            ("bob", .describe, .subject, "orders-value", true, "read implies describe on subjects"),
            ("carol", .write, .topic, "anything", true, "all on the literal *"),
            ("carol", .create, .topic, "new-topic", true, "all on the literal *"),
            ("carol", .read, .topic, "secrets", false, "a deny wins over all on *"),
            ("carol", .write, .topic, "secrets", true, "the deny is for read only"),
            ("carol", .delete, .topic, "payments.eu", false, "the deny for every principal wins over all"),
            ("carol", .read, .group, "g", false, "all on topics says nothing of groups"),
            ("dave", .read, .topic, "public", true, "an allow for every principal"),
            ("dave", .describe, .topic, "public", true, "read by * implies describe"),
            ("dave", .write, .topic, "public", false, "only read is allowed to every principal"),
            ("dave", .read, .topic, "orders", false, "no ACL names dave"),
            ("dave", .describe, .cluster, "*", false, "no ACL on the cluster for dave"),
            ("admin", .delete, .topic, "payments.eu", true, "a super user passes even a deny"),
            ("admin", .alter, .cluster, "*", true, "a super user passes with no ACL"),
            ("admin", .read, .subject, "anything", true, "a super user passes with no ACL"),
        ]
        for (principal, operation, type, name, expected, why) in cases {
            XCTAssertEqual(authorizer.authorize(principal: principal, operation: operation, resourceType: type, name: name), expected,
                           "\(principal) \(operation) \(type):\(name) — \(why)")
        }
    }

    func testNoAclsRefuseEveryoneButSuperUsers() {
        let authorizer = Authorizer(state: SecurityState(), superUsers: ["node-1"])
        for operation in AclOperation.allCases {
            for type in AclResourceType.allCases {
                XCTAssertFalse(authorizer.authorize(principal: "alice", operation: operation, resourceType: type, name: "x"))
                XCTAssertTrue(authorizer.authorize(principal: "node-1", operation: operation, resourceType: type, name: "x"))
            }
        }
    }

    func testADenyOfAllRefusesEveryOperation() throws {
        var state = SecurityState()
        for binding in [AclBinding(principal: "eve", resourceType: .topic, resourceName: "*", operation: .all),
                        AclBinding(principal: "eve", resourceType: .topic, patternType: .prefix, resourceName: "hr.", operation: .all, permission: .deny)] {
            state.apply(.aclAdded(binding))
        }
        let authorizer = Authorizer(state: state, superUsers: [])
        for operation in AclOperation.allCases where operation != .all {
            XCTAssertFalse(authorizer.authorize(principal: "eve", operation: operation, resourceType: .topic, name: "hr.salaries"), "\(operation)")
            XCTAssertTrue(authorizer.authorize(principal: "eve", operation: operation, resourceType: .topic, name: "sales"), "\(operation)")
        }
    }

    func testPrincipalsAreFoundByTheirPublicKey() {
        var state = SecurityState()
        let key = String(repeating: "a", count: 39) + "1"
        state.apply(.principalAdded(name: "node-1", publicKey: key))
        let authorizer = Authorizer(state: state, superUsers: [])
        XCTAssertEqual(authorizer.principal(forPublicKey: key), "node-1")
        XCTAssertNil(authorizer.principal(forPublicKey: String(repeating: "b", count: 40)))
    }
}
