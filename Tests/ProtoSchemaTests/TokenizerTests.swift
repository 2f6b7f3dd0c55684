import XCTest
@testable import ProtoSchema

/// The tokenizer splits source as protoc does and reports positions protoc's way.
final class TokenizerTests: XCTestCase {
    private func tokens(_ source: String) throws -> [Token] {
        var tokenizer = Tokenizer(source: source, file: "t.proto")
        return try tokenizer.tokenize()
    }

    func testTokensKindsAndPositions() throws {
        let result = try tokens("message M {\n  // note\n  int32 x = 0x1F; /* block */ float f = 1.5e3f;\n  string s = \"a\\\"b\";\n}")
        XCTAssertEqual(result.map(\.text), ["message", "M", "{", "int32", "x", "=", "0x1F", ";", "float", "f", "=", "1.5e3f", ";",
                                            "string", "s", "=", "\"a\\\"b\"", ";", "}", ""])
        XCTAssertEqual(result[3].location.description, "t.proto:3:3")
        XCTAssertEqual(result[6].kind, .integer)
        XCTAssertEqual(result[11].kind, .float)
        XCTAssertEqual(result[16].kind, .string)
    }

    func testBadInputIsReportedWhereItIs() {
        XCTAssertThrowsError(try tokens("a\n  \"open")) { error in
            XCTAssertEqual((error as? CompileError)?.location.description, "t.proto:2:3")
        }
        XCTAssertThrowsError(try tokens("/* never closed")) { error in
            XCTAssertEqual((error as? CompileError)?.message, "End-of-file inside block comment.")
        }
        XCTAssertThrowsError(try tokens("x = 12abc"))
    }
}
