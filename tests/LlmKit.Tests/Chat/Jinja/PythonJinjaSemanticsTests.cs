using System.Text.Json;
using LlmKit.Chat.Templates;
using LlmKit.Chat.Templates.Jinja;
using LlmKit.Testing;

namespace LlmKit.Tests.Chat.Jinja;

/// <summary>
/// Small templates (whitespace control, operators, filters, tests, scoping, errors) against what Python's Jinja2 renders
/// with Hugging Face's chat-template environment (Data/JinjaSemantics; generate.py there produced expected.json).
/// Where Jinja2 raises, the interpreter must raise <see cref="ChatTemplateException"/>.
/// </summary>
public class PythonJinjaSemanticsTests
{
    private static readonly string DataFolder = Path.Combine(SharedFixtures.RepositoryRoot, "tests", "LlmKit.Tests", "Data", "JinjaSemantics");

    public static TheoryData<int> Indices()
    {
        var data = new TheoryData<int>();
        for (int i = 0; i < Cases().Length; i++)
        {
            data.Add(i);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Indices))]
    public void Renders_as_python_jinja2(int index)
    {
        string template = Cases()[index];
        var expected = Read("expected.json").RootElement.GetProperty("results")[index];
        if (expected.TryGetProperty("error", out var error))
        {
            var ex = Assert.Throws<ChatTemplateException>(() => JinjaTemplate.Parse(template).Render(Context()));
            Assert.False(string.IsNullOrEmpty(ex.Message), $"Jinja2 raised {error.GetString()}");
        }
        else
        {
            Assert.Equal(expected.GetProperty("output").GetString(), JinjaTemplate.Parse(template).Render(Context()));
        }
    }

    // The same values generate.py renders with.
    private static Dictionary<string, object?> Context()
    {
        static JinjaDict Message(string role, string content)
        {
            var message = new JinjaDict();
            message["role"] = role;
            message["content"] = content;
            return message;
        }

        var d = new JinjaDict();
        d["b"] = 2L;
        d["a"] = 3L;
        d["c"] = 1L;
        return new()
        {
            ["messages"] = new List<object?> { Message("system", "S"), Message("user", "U1"), Message("assistant", "A"), Message("user", "U2") },
            ["d"] = d,
            ["x"] = 1L,
        };
    }

    private static string[] Cases() => Read("cases.json").Deserialize<string[]>()!;

    private static JsonDocument Read(string name)
    {
        string path = Path.Combine(DataFolder, name);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Reference data '{name}' is missing from {DataFolder}; see its README.md.", path);
        }

        return JsonDocument.Parse(File.ReadAllText(path));
    }
}
