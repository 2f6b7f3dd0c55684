import ClusterCore
import Foundation
import XCTest

/// The security state refuses bad changes with a code naming what is wrong, applies good ones
/// the same way on every replay, and survives encoding (and old snapshots without it load).
final class SecurityStateTests: XCTestCase {
    private let aliceKey = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
    private let bobKey = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
    private let hash = String(repeating: "ab", count: 32)

    private func expect(_ code: SecurityError.Code, _ record: MetadataRecord, in state: SecurityState, mentioning text: String,
                        file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try state.validate(record), file: file, line: line) { error in
            XCTAssertEqual((error as? SecurityError)?.code, code, "\(error)", file: file, line: line)
            XCTAssertTrue("\(error)".contains(text), "\(error) should mention \(text)", file: file, line: line)
        }
    }

    private func applied(_ records: [MetadataRecord]) throws -> SecurityState {
        var state = SecurityState()
        for record in records {
            try state.validate(record)
            state.apply(record)
        }
        return state
    }

    func testPrincipalsAreAddedAndRemovedWithTheirTokens() throws {
        var state = try applied([
            .principalAdded(name: "alice", publicKey: aliceKey),
            .principalAdded(name: "bob", publicKey: bobKey),
            .tokenCreated(id: "t1", token: HTTPToken(principal: "alice", secretHash: hash, createdAtMilliseconds: 1)),
            .tokenCreated(id: "t2", token: HTTPToken(principal: "bob", secretHash: String(repeating: "cd", count: 32), createdAtMilliseconds: 2)),
        ])
        XCTAssertEqual(state.principals, ["alice": aliceKey, "bob": bobKey])
        XCTAssertEqual(state.principal(forTokenHash: hash), "alice")
        XCTAssertEqual(state.principal(forTokenHash: hash.uppercased()), "alice")
        XCTAssertNil(state.principal(forTokenHash: String(repeating: "0", count: 64)))
        state.apply(.principalRemoved(name: "alice"))
        XCTAssertEqual(Set(state.tokens.keys), ["t2"], "removing a principal removes its tokens")
        XCTAssertNil(state.principal(forTokenHash: hash))
        state.apply(.tokenRevoked(id: "t2"))
        XCTAssertTrue(state.tokens.isEmpty)
    }

    func testBadPrincipalsAndKeysAreRefusedWithTheReason() throws {
        let state = try applied([.principalAdded(name: "alice", publicKey: aliceKey)])
        for name in ["", "*", "has space", "ünï", "a/b", String(repeating: "x", count: 65)] {
            expect(.invalidPrincipal, .principalAdded(name: name, publicKey: bobKey), in: state, mentioning: "principal name")
        }
        expect(.invalidPublicKey, .principalAdded(name: "bob", publicKey: "short"), in: state, mentioning: "40 Z85 characters")
        expect(.invalidPublicKey, .principalAdded(name: "bob", publicKey: String(repeating: "~", count: 40)), in: state, mentioning: "Z85")
        expect(.publicKeyInUse, .principalAdded(name: "bob", publicKey: aliceKey), in: state, mentioning: "alice")
        expect(.principalExists, .principalAdded(name: "alice", publicKey: bobKey), in: state, mentioning: "alice")
        expect(.unknownPrincipal, .principalRemoved(name: "bob"), in: state, mentioning: "bob")
    }

    func testBadTokensAreRefusedWithTheReason() throws {
        let state = try applied([
            .principalAdded(name: "alice", publicKey: aliceKey),
            .tokenCreated(id: "t1", token: HTTPToken(principal: "alice", secretHash: hash, createdAtMilliseconds: 1)),
        ])
        expect(.unknownPrincipal, .tokenCreated(id: "t2", token: HTTPToken(principal: "bob", secretHash: hash, createdAtMilliseconds: 1)),
               in: state, mentioning: "bob")
        expect(.tokenExists, .tokenCreated(id: "t1", token: HTTPToken(principal: "alice", secretHash: hash, createdAtMilliseconds: 1)),
               in: state, mentioning: "t1")
        expect(.invalidToken, .tokenCreated(id: "t 2", token: HTTPToken(principal: "alice", secretHash: hash, createdAtMilliseconds: 1)),
               in: state, mentioning: "token id")
        expect(.invalidToken, .tokenCreated(id: "t2", token: HTTPToken(principal: "alice", secretHash: "secret", createdAtMilliseconds: 1)),
               in: state, mentioning: "hash")
        expect(.invalidToken, .tokenCreated(id: "t2", token: HTTPToken(principal: "alice", secretHash: hash, createdAtMilliseconds: 1,
                                                                       description: String(repeating: "d", count: 257))),
               in: state, mentioning: "description")
        expect(.unknownToken, .tokenRevoked(id: "t9"), in: state, mentioning: "t9")
    }

    func testBadAclsAreRefusedWithTheReason() throws {
        let binding = AclBinding(principal: "alice", resourceType: .topic, resourceName: "orders", operation: .read)
        let state = try applied([.aclAdded(binding)])
        expect(.aclExists, .aclAdded(binding), in: state, mentioning: "orders")
        var other = binding
        other.permission = .deny
        expect(.unknownAcl, .aclRemoved(other), in: state, mentioning: "deny alice read topic:orders")
        expect(.invalidPrincipal, .aclAdded(AclBinding(principal: "al ice", resourceType: .topic, resourceName: "t", operation: .read)),
               in: state, mentioning: "or * for every principal")
        expect(.invalidAcl, .aclAdded(AclBinding(principal: "alice", resourceType: .topic, resourceName: "", operation: .read)),
               in: state, mentioning: "topic name")
        expect(.invalidAcl, .aclAdded(AclBinding(principal: "alice", resourceType: .group, patternType: .prefix, resourceName: "*", operation: .read)),
               in: state, mentioning: "literal name *")
        expect(.invalidAcl, .aclAdded(AclBinding(principal: "alice", resourceType: .cluster, resourceName: "prod", operation: .alter)),
               in: state, mentioning: "cluster")
        expect(.invalidAcl, .aclAdded(AclBinding(principal: "alice", resourceType: .subject, resourceName: String(repeating: "s", count: 250), operation: .read)),
               in: state, mentioning: "249")
    }

    func testAclsAreKeptSortedWithoutDuplicatesAndReplayTheSame() throws {
        let bindings = [
            AclBinding(principal: "bob", resourceType: .topic, resourceName: "b", operation: .write),
            AclBinding(principal: "alice", resourceType: .topic, resourceName: "b", operation: .read),
            AclBinding(principal: "alice", resourceType: .group, resourceName: "a", operation: .read),
            AclBinding.cluster(principal: "*", operation: .describe),
        ]
        var records = bindings.map(MetadataRecord.aclAdded)
        records.append(.aclAdded(bindings[0]))  // refused on replay: ignored
        records.append(.aclRemoved(bindings[1]))
        var first = SecurityState(), second = SecurityState()
        for record in records { first.apply(record) }
        for record in records { second.apply(record) }
        XCTAssertEqual(first, second)
        XCTAssertEqual(first.acls, [bindings[3], bindings[2], bindings[0]])
        XCTAssertEqual(first.acls, first.acls.sorted())
    }

    func testTheStateRoundTripsThroughJSONInsideTheMetadata() throws {
        var metadata = MetadataState()
        let records: [MetadataRecord] = [
            .principalAdded(name: "alice", publicKey: aliceKey),
            .aclAdded(AclBinding(principal: "alice", resourceType: .topic, patternType: .prefix, resourceName: "pay", operation: .write, permission: .deny)),
            .tokenCreated(id: "t1", token: HTTPToken(principal: "alice", secretHash: hash, createdAtMilliseconds: 7, description: "ci")),
        ]
        for record in records {
            try metadata.validate(record)
            metadata.apply(record)
            XCTAssertEqual(try JSONDecoder().decode(MetadataRecord.self, from: JSONEncoder().encode(record)), record)
        }
        let decoded = try JSONDecoder().decode(MetadataState.self, from: JSONEncoder().encode(metadata))
        XCTAssertEqual(decoded, metadata)
        XCTAssertEqual(decoded.security.tokens["t1"]?.description, "ci")
        XCTAssertEqual(decoded.security.acls.count, 1)
    }

    func testASnapshotWrittenBeforeSecurityStillLoads() throws {
        let old = #"{"topics":{"orders":{"partitions":3,"replicationFactor":1,"compacted":false}},"producerEpochs":[1,0],"groupAssignments":{},"appliedCount":1}"#
        let state = try JSONDecoder().decode(MetadataState.self, from: Data(old.utf8))
        XCTAssertEqual(state.topics["orders"]?.partitions, 3)
        XCTAssertEqual(state.producerEpochs, [1: 0])
        XCTAssertEqual(state.security, SecurityState())
    }

    func testTheMetadataRefusesBadSecurityChangesWithTheCode() {
        let state = MetadataState()
        XCTAssertThrowsError(try state.validate(.principalRemoved(name: "ghost"))) { error in
            XCTAssertEqual((error as? MetadataError)?.code, .invalidSecurityChange)
            XCTAssertTrue("\(error)".contains("unknown_principal: no principal ghost"), "\(error)")
        }
    }
}
