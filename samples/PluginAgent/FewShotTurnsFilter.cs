using System.Net;
using System.Text;
using LlmKit.Plugins.FewShot;
using LlmKit.Plugins.FewShot.Selection;
using Microsoft.SemanticKernel;

namespace PluginAgent;

/// <summary>
/// Adds the few-shot plugin's examples to a prompt: selects the examples for the <c>input</c> argument and writes them
/// as user/assistant message tags into the <c>examples</c> argument just before the template is rendered.
/// </summary>
/// <remarks>
/// Registered after the moderation filter, so it runs inside it: a refused input is never used to select examples.
/// The selection is left in the arguments under <see cref="SelectionKey"/> for the caller to report. Thread-safe
/// when the selector is (the plugin's selectors are); per-call state lives only in that call's arguments.
/// </remarks>
/// <param name="selector">The few-shot plugin's selector.</param>
/// <param name="count">Examples per prompt (1 to 64).</param>
internal sealed class FewShotTurnsFilter(IFewShotSelector selector, int count) : IPromptRenderFilter
{
    /// <summary>The argument the template reads the rendered example turns from.</summary>
    public const string ExamplesArgument = "examples";

    /// <summary>The argument under which the selected examples (<see cref="IReadOnlyList{SelectedExample}"/>) are left.</summary>
    public const string SelectionKey = "pluginagent.fewshot";

    private readonly IFewShotSelector _selector = selector ?? throw new ArgumentNullException(nameof(selector));
    private readonly int _count = count is >= 1 and <= 64 ? count : throw new ArgumentOutOfRangeException(nameof(count), count, "count must be between 1 and 64.");

    /// <inheritdoc />
    public async Task OnPromptRenderAsync(PromptRenderContext context, Func<PromptRenderContext, Task> next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        if (context.Arguments.TryGetValue("input", out object? value) && value is string input && context.Arguments.ContainsName(ExamplesArgument))
        {
            var selected = await _selector.SelectAsync(input, _count, context.CancellationToken).ConfigureAwait(false);
            context.Arguments[ExamplesArgument] = RenderTurns(selected);
            context.Arguments[SelectionKey] = selected;
        }

        await next(context).ConfigureAwait(false);
    }

    // Best example last, right before the real question. Texts are XML-escaped: the template lets this argument's
    // message tags through, so nothing inside an example may open a tag of its own.
    private static string RenderTurns(IReadOnlyList<SelectedExample> selected)
    {
        var turns = new StringBuilder();
        for (int i = selected.Count - 1; i >= 0; i--)
        {
            var example = selected[i].Example;
            turns.Append("<message role=\"user\">").Append(WebUtility.HtmlEncode(example.Input)).Append("</message>\n");
            turns.Append("<message role=\"assistant\">").Append(WebUtility.HtmlEncode(example.Output)).Append("</message>\n");
        }

        return turns.ToString();
    }
}
