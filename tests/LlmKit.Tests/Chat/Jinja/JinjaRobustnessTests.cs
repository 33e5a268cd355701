using System.Text;
using LlmKit.Chat.Templates;
using LlmKit.Chat.Templates.Jinja;

namespace LlmKit.Tests.Chat.Jinja;

/// <summary>
/// Templates come from untrusted model folders: whatever their text, parsing and rendering either succeed or fail with
/// <see cref="ChatTemplateException"/> — never another exception type, a hang or a crash.
/// </summary>
public class JinjaRobustnessTests
{
    // Pieces of real template syntax, glued at random inside and outside tags: most results are malformed somewhere.
    private static readonly string[] ExpressionPieces =
    [
        "x", "messages", "message", "loop", "ns", ".", "[", "]", "(", ")", "{", "}", ",", ":", "|", "'a'", "\"b\"", "'", "1", "0",
        "-", "2.5", "not", "and", "or", "is", "defined", "none", "~", "*", "/", "//", "%", "**", "==", "!=", "<", ">", "+", "in",
        "trim", "tojson", "length", "join", "items", "namespace", "range", "raise_exception", "selectattr", "map", "[::-1]", "[0]",
        ".role", ".content", "true", "false", "if", "else", "%}", "}}",
    ];

    private static readonly string[] Statements =
    [
        "if", "elif", "else", "endif", "for x in", "for m in messages", "endfor", "set x =", "set ns =", "set ns.a =", "macro f(a)",
        "endmacro", "raw", "endraw", "break", "continue", "set", "for", "generation", "endgeneration",
    ];

    private static readonly string[] Texts = ["a", " ", "\n", "  \n  ", "{", "}", "%", "#", "-"];

    private static string RandomTemplate(Random random)
    {
        var text = new StringBuilder();
        int segments = random.Next(1, 16);
        for (int s = 0; s < segments; s++)
        {
            switch (random.Next(4))
            {
                case 0:
                    text.Append(Texts[random.Next(Texts.Length)]);
                    break;
                case 1:
                    text.Append(random.Next(3) == 0 ? "{{- " : "{{ ");
                    AppendPieces(text, random);
                    text.Append(random.Next(3) == 0 ? " -}}" : " }}");
                    break;
                case 2:
                    text.Append(random.Next(3) == 0 ? "{%- " : "{% ").Append(Statements[random.Next(Statements.Length)]).Append(' ');
                    if (random.Next(2) == 0)
                    {
                        AppendPieces(text, random);
                    }

                    text.Append(random.Next(3) == 0 ? " -%}" : " %}");
                    break;
                default:
                    text.Append("{# ").Append(Texts[random.Next(Texts.Length)]).Append(random.Next(4) == 0 ? "" : " #}");
                    break;
            }
        }

        return text.ToString();
    }

    private static void AppendPieces(StringBuilder text, Random random)
    {
        int count = random.Next(1, 7);
        for (int i = 0; i < count; i++)
        {
            text.Append(ExpressionPieces[random.Next(ExpressionPieces.Length)]).Append(random.Next(2) == 0 ? " " : "");
        }
    }

    [Fact]
    public void Random_templates_fail_only_with_ChatTemplateException()
    {
        var random = new Random(20261203); // fixed seed: the same 20000 templates on every run
        var context = new Dictionary<string, object?>
        {
            ["messages"] = new List<object?> { Message("system", "s"), Message("user", "u") },
            ["x"] = 3L,
        };
        var limits = new JinjaLimits(MaxOutputChars: 100_000, MaxLoopIterations: 10_000, MaxCallDepth: 8);
        int parsed = 0, rendered = 0;
        for (int i = 0; i < 20000; i++)
        {
            string source = RandomTemplate(random);
            JinjaTemplate template;
            try
            {
                template = JinjaTemplate.Parse(source);
                parsed++;
            }
            catch (ChatTemplateException)
            {
                continue;
            }

            try
            {
                template.Render(context, limits);
                rendered++;
            }
            catch (ChatTemplateException)
            {
            }
        }

        // The generator must reach the renderer often enough for the check to mean something (about 8% parse).
        Assert.True(parsed > 1000, $"only {parsed} of 20000 random templates parsed");
        Assert.True(rendered > 900, $"only {rendered} random templates rendered");
    }

    private static JinjaDict Message(string role, string content)
    {
        var dict = new JinjaDict();
        dict["role"] = role;
        dict["content"] = content;
        return dict;
    }
}
