@testable import EddyJob
import Testing

/// The statements `JobParser.split` finds, as the source text of each.
private func statements(_ text: String) throws -> [String] {
    let tokens = try Lexer(text: text, map: LineMap(file: "j", text: text)).tokenize()
    let bytes = Array(text.utf8)
    return JobParser.split(tokens).map { group in
        String(decoding: bytes[(group.first?.start ?? 0)..<(group.last?.end ?? 0)], as: UTF8.self)
    }
}

@Suite("JobParser.split")
struct JobSplitTests {
    @Test func semicolonsInStringsAndComments() throws {
        #expect(try statements("SELECT ';'; SELECT 2 -- ; not here\n; /* ; */ SELECT \"a;b\" FROM t") == [
            "SELECT ';'", "SELECT 2", "SELECT \"a;b\" FROM t",
        ])
    }

    @Test func trailingStatementWithoutSemicolon() throws {
        #expect(try statements("SELECT 1;\nSELECT 2") == ["SELECT 1", "SELECT 2"])
        #expect(try statements("SELECT 1") == ["SELECT 1"])
    }

    @Test func emptyStatementsVanish() throws {
        #expect(try statements(";;  ;\n-- nothing\n;") == [])
        #expect(try statements("") == [])
        #expect(try statements("SELECT 1;;;SELECT 2;") == ["SELECT 1", "SELECT 2"])
    }

    @Test func triggerBodyKeepsItsSemicolons() throws {
        let trigger = """
            CREATE TRIGGER tr AFTER INSERT ON t BEGIN
              INSERT INTO log VALUES (CASE WHEN new.a > 0 THEN 'pos' ELSE 'neg' END);
              UPDATE totals SET n = CASE n WHEN NULL THEN 1 ELSE n + 1 END, m = (CASE WHEN 1 THEN 2 END);
            END
            """
        #expect(try statements(trigger + ";\nSELECT 1;") == [trigger, "SELECT 1"])
    }

    @Test func triggerVariants() throws {
        let temp = "CREATE TEMP TRIGGER x BEFORE DELETE ON t BEGIN DELETE FROM u; END"
        let whenCase = "CREATE TRIGGER IF NOT EXISTS y AFTER UPDATE ON t WHEN CASE WHEN new.a THEN 1 END BEGIN SELECT 1; SELECT 2; END"
        #expect(try statements("\(temp); \(whenCase); SELECT 3") == [temp, whenCase, "SELECT 3"])
    }

    @Test func beginOutsideATriggerEndsAtItsSemicolon() throws {
        #expect(try statements("BEGIN; SELECT 1; END; COMMIT") == ["BEGIN", "SELECT 1", "END", "COMMIT"])
        #expect(try statements("SELECT 'CREATE TRIGGER'; SELECT 2") == ["SELECT 'CREATE TRIGGER'", "SELECT 2"])
    }

    @Test func nestedCaseInsideTrigger() throws {
        let trigger = "CREATE TRIGGER z AFTER INSERT ON t BEGIN SELECT CASE WHEN 1 THEN CASE 2 WHEN 2 THEN 3 END END; END"
        #expect(try statements(trigger + "; SELECT 9") == [trigger, "SELECT 9"])
    }
}
