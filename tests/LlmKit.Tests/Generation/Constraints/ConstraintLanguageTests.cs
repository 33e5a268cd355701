using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using LlmKit.Generation.Constraints;
using LlmKit.Models;
using LlmKit.Testing;
using Validator = Json.Schema.JsonSchema;

namespace LlmKit.Tests.Generation.Constraints;

/// <summary>
/// Which byte strings a compiled constraint accepts, checked against independent oracles: integer arithmetic,
/// JsonSchema.Net and plain string comparison (on stories260K's automaton; acceptance does not depend on the model).
/// </summary>
public class ConstraintLanguageTests
{
    private static OnnxGenAIModel Model => LoadedModels.Stories260K;

    private static bool Accepts(OutputConstraint constraint, string text)
    {
        var automaton = Model.GetConstraintAutomaton(constraint);
        int state = automaton.Advance(automaton.Start, Encoding.UTF8.GetBytes(text));
        return state >= 0 && automaton.IsAccepting(state);
    }

    [Theory]
    [InlineData("-50", "-7")]
    [InlineData("3", "112")]
    [InlineData("0", "0")]
    [InlineData("-5", "5")]
    [InlineData("95", "1005")]
    [InlineData(null, "10")]
    [InlineData("-3", null)]
    [InlineData("7", null)]
    [InlineData("-1100", "-1000")]
    public void Integer_ranges_accept_exactly_the_integers_inside(string? min, string? max)
    {
        string schema = "{\"type\":\"integer\"" + (min is null ? "" : ",\"minimum\":" + min) + (max is null ? "" : ",\"maximum\":" + max) + "}";
        var constraint = OutputConstraint.JsonSchema(schema);
        long lo = min is null ? long.MinValue : long.Parse(min, CultureInfo.InvariantCulture);
        long hi = max is null ? long.MaxValue : long.Parse(max, CultureInfo.InvariantCulture);
        for (long n = -1300; n <= 1300; n++)
        {
            Assert.True(Accepts(constraint, n.ToString(CultureInfo.InvariantCulture)) == (n >= lo && n <= hi), $"{n} in [{min}, {max}]");
        }

        Assert.False(Accepts(constraint, "007"));
        Assert.False(Accepts(constraint, "1.5"));
    }

    [Fact]
    public void Schema_keywords_accept_what_JsonSchema_Net_validates()
    {
        const string schema = """
            {
              "definitions": { "leaf": { "type": "object", "properties": { "v": { "type": "boolean" } }, "required": ["v"], "additionalProperties": false } },
              "type": "object",
              "properties": {
                "n": { "type": "integer", "exclusiveMinimum": 1, "exclusiveMaximum": 4 },
                "c": { "const": { "a": [1, null] } },
                "e": { "enum": ["x", 2, true] },
                "s": { "type": "string", "minLength": 2, "maxLength": 3 },
                "l": { "$ref": "#/definitions/leaf" },
                "r": { "anyOf": [ { "$ref": "#" }, { "type": "null" } ] },
                "any": true
              },
              "required": ["n", "c"],
              "additionalProperties": false
            }
            """;
        var constraint = OutputConstraint.JsonSchema(schema);
        var validator = Validator.FromText(schema);
        string[] documents =
        [
            """{"n":2,"c":{"a":[1,null]}}""",
            """{"n":3,"c":{"a":[1,null]},"e":2,"s":"ab","l":{"v":true},"r":null,"any":[1,"x"]}""",
            """{"n": 2, "c": {"a":[1,null]}, "r": {"n":3,"c":{"a":[1,null]},"r":null}}""",
            """{"n":1,"c":{"a":[1,null]}}""",
            """{"n":4,"c":{"a":[1,null]}}""",
            """{"n":2}""",
            """{"n":2,"c":{"a":[1,null]},"s":"a"}""",
            """{"n":2,"c":{"a":[1,null]},"s":"abcd"}""",
            """{"n":2,"c":{"a":[1,null]},"e":"y"}""",
            """{"n":2,"c":{"a":[1,null]},"l":{}}""",
            """{"n":2,"c":{"a":[1,null]},"s":"\u00e9\n"}""",
            """ {"n":2,"c":{"a":[1,null]}}""",
        ];
        foreach (string document in documents)
        {
            bool valid = validator.Evaluate(JsonNode.Parse(document)).IsValid;
            bool accepted = Accepts(constraint, document);
            // Every accepted document must validate; valid documents in the written form (schema order, at most one space after
            // ':' and ',', enum/const values compact) are accepted.
            Assert.True(!accepted || valid, $"accepted but invalid: {document}");
            Assert.True(accepted == valid, $"{document}: validator {valid}, constraint {accepted}");
        }
    }

    [Fact]
    public void Sequence_any_of_literal_and_choice_compose()
    {
        var constraint = OutputConstraint.Sequence(
            OutputConstraint.Literal("id="),
            OutputConstraint.AnyOf(OutputConstraint.Regex(@"\d+"), OutputConstraint.Choice(["none", "n/a"])),
            OutputConstraint.Literal(";"));
        Assert.True(Accepts(constraint, "id=42;"));
        Assert.True(Accepts(constraint, "id=n/a;"));
        Assert.True(Accepts(constraint, "id=none;"));
        Assert.False(Accepts(constraint, "id=;"));
        Assert.False(Accepts(constraint, "id=4x;"));
        Assert.False(Accepts(constraint, "id=42"));
        Assert.False(Accepts(constraint, "ID=42;"));
    }

    [Fact]
    public void Any_json_accepts_valid_json_and_rejects_broken_json()
    {
        var json = OutputConstraint.Json();
        foreach (string ok in (string[])["0", "-1.5e+3", "\"a\\u00e9\\n\"", "[]", "{}", "[1, {\"a\": [true, false, null]}]", "\"日本\"", " {\"k\": \"v\"}"])
        {
            Assert.True(Accepts(json, ok), ok);
        }

        foreach (string bad in (string[])["01", "[1,]", "{\"a\"}", "'a'", "tru", "\"\\x\"", "[1] [2]", "{\"a\":1", "\"\\ud800\""])
        {
            Assert.False(Accepts(json, bad), bad);
        }
    }
}
