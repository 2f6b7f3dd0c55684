import ProtoSchema
import SchemaRegistry
import XCTest

/// The registry's state machine and operations: ids, versions, levels over multi-version
/// histories, references, deletes, modes, bad input, and replay of the records.
final class SchemaRegistryServiceTests: XCTestCase {
    private func order(_ fields: String) -> SchemaSubmission {
        SchemaSubmission(schema: "syntax = \"proto3\";\npackage shop.v1;\nmessage Order {\n\(fields)\n}\n")
    }

    private func expectError(_ code: Int, _ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            try body()
            XCTFail("expected error \(code)", file: file, line: line)
        } catch let error as RegistryError {
            XCTAssertEqual(error.code, code, error.message, file: file, line: line)
            return error.message
        } catch {
            XCTFail("unexpected \(error)", file: file, line: line)
        }
        return ""
    }

    func testIdsAndVersionsFollowConfluent() throws {
        let registry = SchemaRegistryService(store: InMemoryRegistryStore())
        let first = try registry.register(subject: "orders-value", order("string id = 1;"))
        XCTAssertEqual(first.id, 1)
        XCTAssertEqual(first.version, 1)
        // Whitespace and comments do not make a new schema.
        let again = try registry.register(subject: "orders-value", order("  string id = 1; // the order id"))
        XCTAssertEqual(again.id, 1)
        XCTAssertEqual(again.version, 1)
        XCTAssertEqual(try registry.versions(of: "orders-value"), [1])
        // The same schema under another subject keeps its id, with that subject's own version 1.
        let audit = try registry.register(subject: "audit-value", order("string id = 1;"))
        XCTAssertEqual(audit.id, 1)
        XCTAssertEqual(audit.version, 1)
        let second = try registry.register(subject: "orders-value", order("string id = 1;\nint64 amount = 2;"))
        XCTAssertEqual(second.id, 2)
        XCTAssertEqual(second.version, 2)
        XCTAssertEqual(try registry.version(of: "orders-value", .latest).schema.id, 2)
        XCTAssertEqual(try registry.lookup(subject: "orders-value", order("string id = 1;")).version, 1)
        XCTAssertEqual(try registry.usages(of: 1).map(\.subject), ["audit-value", "orders-value"])
        XCTAssertEqual(registry.subjects(), ["audit-value", "orders-value"])
        _ = expectError(40403) { _ = try registry.lookup(subject: "orders-value", order("bool other = 1;")) }
        _ = expectError(40401) { _ = try registry.lookup(subject: "nobody", order("bool other = 1;")) }
        _ = expectError(40402) { _ = try registry.version(of: "orders-value", .number(9)) }
        _ = expectError(40403) { _ = try registry.schema(id: 77) }
    }

    func testEveryLevelOverAHistory() throws {
        let registry = SchemaRegistryService(store: InMemoryRegistryStore())
        try registry.register(subject: "s", order("int32 amount = 1;"))
        // BACKWARD (the default): a changed field kind is refused, field by field.
        let message = expectError(409) { try registry.register(subject: "s", order("string amount = 1;")) }
        XCTAssertTrue(message.contains("Order") && message.contains("amount") || message.contains("#/Order/1") || message.contains("shop.v1.Order"), message)
        XCTAssertTrue(message.contains("incompatible with an earlier schema for subject \"s\""), message)
        _ = try registry.setLevel("NONE", subject: "s")
        try registry.register(subject: "s", order("string amount = 1;"))
        // Plain BACKWARD checks only the latest (string → string passes); the transitive level
        // also checks version 1 (int32) and refuses.
        _ = try registry.setLevel("BACKWARD_TRANSITIVE", subject: "s")
        _ = expectError(409) { try registry.register(subject: "s", order("string amount = 1;\nbool paid = 2;")) }
        let (compatibleWithLatest, _) = try registry.checkCompatibility(subject: "s", order("string amount = 1;\nbool paid = 2;"), against: .latest)
        XCTAssertTrue(compatibleWithLatest)
        let (transitive, messages) = try registry.checkCompatibility(subject: "s", order("string amount = 1;\nbool paid = 2;"), against: nil)
        XCTAssertFalse(transitive)
        XCTAssertFalse(messages.isEmpty)
        _ = try registry.setLevel("backward", subject: "s")
        try registry.register(subject: "s", order("string amount = 1;\nbool paid = 2;"))
        // FORWARD, FULL and their transitive forms refuse the kind change in both directions.
        for level in ["FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE"] {
            _ = try registry.setLevel(level, subject: "s")
            _ = expectError(409) { try registry.register(subject: "s", order("double amount = 1;\nbool paid = 2;")) }
        }
        // Adding a field is fine under every level, checked against the latest version.
        for level in CompatibilityLevel.allCases {
            _ = try registry.setLevel(level.rawValue, subject: "s")
            let (compatible, _) = try registry.checkCompatibility(subject: "s", order("string amount = 1;\nbool paid = 2;\nstring note = 3;"), against: .latest)
            XCTAssertTrue(compatible, "\(level)")
        }
        XCTAssertEqual(try registry.level(subject: "s"), .none)
        _ = expectError(40408) { _ = try registry.level(subject: "other") }
        XCTAssertEqual(try registry.level(subject: "other", defaultToGlobal: true), .backward)
        _ = expectError(42203) { _ = try registry.setLevel("SIDEWAYS", subject: nil) }
    }

    func testReferencesResolveAndProtectWhatTheyReference() throws {
        let registry = SchemaRegistryService(store: InMemoryRegistryStore())
        let money = "syntax = \"proto3\";\npackage common;\nmessage Money { int64 units = 1; string currency = 2; }\n"
        try registry.register(subject: "money", SchemaSubmission(schema: money))
        let payment = SchemaSubmission(
            schema: "syntax = \"proto3\";\nimport \"common/money.proto\";\nimport \"google/protobuf/timestamp.proto\";\nmessage Payment { common.Money amount = 1; google.protobuf.Timestamp at = 2; }\n",
            references: [SchemaReference(name: "common/money.proto", subject: "money", version: 1)])
        let registered = try registry.register(subject: "payments-value", payment)
        XCTAssertEqual(try registry.referencedBy(subject: "money", .number(1)), [registered.id])
        XCTAssertEqual(try registry.compiled(id: registered.id).messageName(at: [0]), "Payment")
        _ = expectError(42206) { _ = try registry.deleteSubject("money") }
        var dangling = payment
        dangling.references = [SchemaReference(name: "common/money.proto", subject: "money", version: 7)]
        let message = expectError(42201) { try registry.register(subject: "other", dangling) }
        XCTAssertTrue(message.contains("money") && message.contains("7"), message)
        _ = expectError(42201) { try registry.register(subject: "other", SchemaSubmission(schema: payment.schema)) }
    }

    func testDeletesAreSoftFirstAndNumbersAreNeverReused() throws {
        let registry = SchemaRegistryService(store: InMemoryRegistryStore())
        try registry.register(subject: "s", order("string a = 1;"))
        try registry.register(subject: "s", order("string a = 1;\nstring b = 2;"))
        _ = expectError(40407) { _ = try registry.deleteVersion(of: "s", .number(2), permanent: true) }
        XCTAssertEqual(try registry.deleteVersion(of: "s", .number(2)), 2)
        _ = expectError(40406) { _ = try registry.deleteVersion(of: "s", .number(2)) }
        XCTAssertEqual(try registry.versions(of: "s"), [1])
        XCTAssertEqual(try registry.versions(of: "s", includingDeleted: true), [1, 2])
        XCTAssertEqual(try registry.schema(id: 2).id, 2, "a soft-deleted version's id still resolves")
        // The next version is 3, never 2 again.
        XCTAssertEqual(try registry.register(subject: "s", order("string a = 1;\nstring c = 3;")).version, 3)
        _ = expectError(40405) { _ = try registry.deleteSubject("s", permanent: true) }
        XCTAssertEqual(try registry.deleteSubject("s"), [1, 3])
        _ = expectError(40404) { _ = try registry.deleteSubject("s") }
        _ = expectError(40401) { _ = try registry.versions(of: "s") }
        XCTAssertEqual(registry.subjects(includingDeleted: true), ["s"])
        XCTAssertEqual(try registry.deleteSubject("s", permanent: true), [1, 2, 3])
        _ = expectError(40403) { _ = try registry.schema(id: 1) }
        XCTAssertEqual(try registry.register(subject: "s", order("bool z = 1;")).id, 4, "ids are never given twice")
    }

    func testModes() throws {
        let registry = SchemaRegistryService(store: InMemoryRegistryStore())
        try registry.register(subject: "s", order("string a = 1;"))
        _ = try registry.setMode("readonly", subject: "s")
        XCTAssertEqual(try registry.register(subject: "s", order("string a = 1;")).id, 1, "a known schema answers even read-only")
        _ = expectError(42205) { try registry.register(subject: "s", order("string a = 1;\nstring b = 2;")) }
        _ = expectError(42205) { _ = try registry.deleteSubject("s") }
        _ = expectError(40409) { _ = try registry.mode(subject: "t") }
        _ = expectError(42204) { _ = try registry.setMode("SOMETIMES", subject: nil) }
        XCTAssertEqual(try registry.deleteMode(subject: "s"), .readOnly)
        _ = try registry.setMode("IMPORT", subject: nil)
        let imported = try registry.register(subject: "legacy", SchemaSubmission(schema: order("bool x = 1;").schema, id: 100, version: 5))
        XCTAssertEqual(imported.id, 100)
        XCTAssertEqual(imported.version, 5)
        _ = expectError(42205) { try registry.register(subject: "legacy", SchemaSubmission(schema: order("bool y = 1;").schema, id: 100, version: 6)) }
        _ = try registry.setMode("READWRITE", subject: nil)
        XCTAssertEqual(try registry.register(subject: "new", order("bool fresh = 1;")).id, 101, "new ids continue after imported ones")
    }

    func testBadInputIsRefusedWithItsCode() throws {
        let registry = SchemaRegistryService(store: InMemoryRegistryStore(), maxSchemaBytes: 4096)
        let message = expectError(42201) { try registry.register(subject: "s", SchemaSubmission(schema: "syntax = \"proto3\";\nmessage A {\n  strin x = 1;\n}\n")) }
        XCTAssertTrue(message.contains("line 3:"), message)
        _ = expectError(42201) { try registry.register(subject: "s", SchemaSubmission(schema: "{\"type\": \"record\"}", schemaType: nil)) }
        _ = expectError(42201) { try registry.register(subject: "s", SchemaSubmission(schema: "")) }
        _ = expectError(42209) { try registry.register(subject: "s", SchemaSubmission(schema: String(repeating: "x", count: 5000))) }
        _ = expectError(42208) { try registry.register(subject: "", order("string a = 1;")) }
        _ = expectError(42202) { _ = try VersionSelector(parsing: "0") }
        _ = expectError(42202) { _ = try VersionSelector(parsing: "abc") }
        XCTAssertEqual(try VersionSelector(parsing: "-1"), .latest)
    }

    func testReplayingTheRecordsRebuildsTheState() throws {
        let store = InMemoryRegistryStore()
        let registry = SchemaRegistryService(store: store)
        try registry.register(subject: "a", order("string a = 1;"))
        try registry.register(subject: "a", order("string a = 1;\nstring b = 2;"))
        try registry.register(subject: "b", order("string a = 1;"))
        _ = try registry.setLevel("FULL", subject: "a")
        _ = try registry.setMode("READONLY", subject: "b")
        _ = try registry.deleteVersion(of: "a", .number(1))
        var replayed = RegistryState()
        for record in store.records { replayed.apply(record) }
        XCTAssertEqual(replayed, store.registryState)
        // And through JSON, as the metadata log stores them.
        var decoded = RegistryState()
        for record in store.records {
            decoded.apply(try JSONDecoder().decode(RegistryRecord.self, from: try JSONEncoder().encode(record)))
        }
        XCTAssertEqual(decoded, store.registryState)
    }
}
