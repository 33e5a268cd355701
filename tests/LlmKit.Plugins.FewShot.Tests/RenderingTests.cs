using LlmKit.Plugins.FewShot.Rendering;
using Microsoft.Extensions.AI;
using Microsoft.SemanticKernel.ChatCompletion;

namespace LlmKit.Plugins.FewShot.Tests;

public class RenderingTests
{
    // Ranked best first, as every selector returns them.
    private static readonly SelectedExample[] Selected =
    [
        new(TestSupport.Example("best in", "best out", "A"), 0.9),
        new(TestSupport.Example("second in", "second out", "B"), 0.5),
    ];

    [Fact]
    public void Messages_put_the_best_example_last_by_default()
    {
        var messages = new FewShotPromptRenderer(new FewShotPromptOptions { Instruction = "Answer briefly." }).RenderMessages(Selected, "real input");
        Assert.Equal(
        [
            (ChatRole.System, "Answer briefly."),
            (ChatRole.User, "second in"),
            (ChatRole.Assistant, "second out"),
            (ChatRole.User, "best in"),
            (ChatRole.Assistant, "best out"),
            (ChatRole.User, "real input"),
        ],
        messages.Select(m => (m.Role, m.Text)));
    }

    [Fact]
    public void Messages_can_put_the_best_example_first_and_omit_the_instruction()
    {
        var messages = new FewShotPromptRenderer(new FewShotPromptOptions { Ordering = ExampleOrdering.MostSimilarFirst }).RenderMessages(Selected, "q");
        Assert.Equal(
        [
            (ChatRole.User, "best in"),
            (ChatRole.Assistant, "best out"),
            (ChatRole.User, "second in"),
            (ChatRole.Assistant, "second out"),
            (ChatRole.User, "q"),
        ],
        messages.Select(m => (m.Role, m.Text)));
    }

    [Fact]
    public void Chat_history_matches_the_message_sequence()
    {
        var renderer = new FewShotPromptRenderer(new FewShotPromptOptions { Instruction = "Be kind." });
        var history = renderer.RenderChatHistory(Selected, "real input");
        Assert.Equal(
        [
            (AuthorRole.System, "Be kind."),
            (AuthorRole.User, "second in"),
            (AuthorRole.Assistant, "second out"),
            (AuthorRole.User, "best in"),
            (AuthorRole.Assistant, "best out"),
            (AuthorRole.User, "real input"),
        ],
        history.Select(m => (m.Role, m.Content)));
    }

    [Fact]
    public void No_examples_renders_just_the_input()
    {
        var messages = new FewShotPromptRenderer().RenderMessages([], "alone");
        Assert.Equal([(ChatRole.User, "alone")], messages.Select(m => (m.Role, m.Text)));
    }

    [Fact]
    public void Text_template_fills_placeholders_and_escapes_braces()
    {
        var template = new FewShotTextTemplate(
            exampleTemplate: "Q: {input} [{label}]\nA: {output} {{literal}}",
            queryTemplate: "Q: {input}\nA:",
            separator: "\n---\n",
            prefix: "Classify.");
        string text = template.Render(Selected, "new one");
        Assert.Equal(
            "Classify.\n---\n" +
            "Q: second in [B]\nA: second out {literal}\n---\n" +
            "Q: best in [A]\nA: best out {literal}\n---\n" +
            "Q: new one\nA:",
            text);
        Assert.StartsWith("Input: best in\nOutput: best out\n\n", new FewShotTextTemplate().Render(Selected, "x", ExampleOrdering.MostSimilarFirst), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{inptu}", "Input: {input}", "Unknown placeholder '{inptu}'")]
    [InlineData("{input", "Input: {input}", "Unclosed '{'")]
    [InlineData("x}", "Input: {input}", "Unbalanced '}'")]
    [InlineData("{input}", "no input here", "must contain {input}")]
    public void Bad_templates_fail_at_construction(string example, string query, string message)
    {
        var ex = Assert.Throws<ArgumentException>(() => new FewShotTextTemplate(example, query));
        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
    }
}
