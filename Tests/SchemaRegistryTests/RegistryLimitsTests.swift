import Foundation
import SchemaRegistry
import XCTest

/// Hostile registry input: a schema whose stored record would not fit the store, request bodies
/// nested or sized to hurt the JSON parser — each refused with its code, nothing stored.
final class RegistryLimitsTests: XCTestCase {
    /// `count` small messages: about 60 bytes of text each.
    private func schema(messages count: Int) -> String {
        "syntax = \"proto3\";\npackage big.v1;\n" + (0..<count).map { "message M\($0) { string name = 1; int64 id = 2; }\n" }.joined()
    }

    func testASchemaWhoseRecordWouldNotFitTheStoreIsRefusedWith42209() throws {
        let store = InMemoryRegistryStore()
        let registry = SchemaRegistryService(store: store, maxSchemaBytes: 64 * 1024, maxRecordBytes: 16 * 1024)
        let text = schema(messages: 200)
        XCTAssertLessThan(text.utf8.count, 16 * 1024, "the text alone fits; the record (text and descriptor) does not")
        do {
            try registry.register(subject: "big-value", SchemaSubmission(schema: text))
            XCTFail("registered a schema whose record exceeds the store's limit")
        } catch let error as RegistryError {
            XCTAssertEqual(error.code, 42209, error.message)
            XCTAssertTrue(error.message.contains("record"), error.message)
            XCTAssertTrue(error.message.contains("16384"), error.message)
        }
        XCTAssertTrue(store.records.isEmpty)
        // A schema whose record fits is stored.
        XCTAssertEqual(try registry.register(subject: "small-value", SchemaSubmission(schema: schema(messages: 5))).version, 1)
    }

    func testRequestBodiesNestedAHundredThousandDeepAreRefused() {
        let api = RegistryREST(service: SchemaRegistryService(store: InMemoryRegistryStore()))
        let deep = Array(String(repeating: "[", count: 100_000).utf8) + Array(String(repeating: "]", count: 100_000).utf8)
        let answer = api.handle(RegistryHTTPRequest(method: "POST", segments: ["subjects", "s", "versions"], body: deep))
        XCTAssertEqual(answer.status, 400, String(decoding: answer.body, as: UTF8.self))
    }

    func testRequestBodiesLargerThanTheLimitAreRefusedUnparsed() throws {
        let api = RegistryREST(service: SchemaRegistryService(store: InMemoryRegistryStore(), maxSchemaBytes: 1024))
        let body = try JSONSerialization.data(withJSONObject: ["schemaType": "PROTOBUF", "schema": "syntax = \"proto3\";",
                                                               "padding": String(repeating: "x", count: 1 << 20)])
        let answer = api.handle(RegistryHTTPRequest(method: "POST", segments: ["subjects", "s", "versions"], body: Array(body)))
        let text = String(decoding: answer.body, as: UTF8.self)
        XCTAssertEqual(answer.status, 413, text)
        XCTAssertTrue(text.contains("request body"), text)
    }
}
