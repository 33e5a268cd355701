using Microsoft.Extensions.AI;
using Microsoft.SemanticKernel.ChatCompletion;

namespace LlmKit.Plugins.FewShot.Rendering;

/// <summary>
/// Renders selected examples as alternating user/assistant turns — [system instruction], user(example input),
/// assistant(example output), …, user(real input) — for M.E.AI (<see cref="ChatMessage"/>) and SK (<see cref="ChatHistory"/>).
/// </summary>
/// <remarks>Immutable and thread-safe.</remarks>
public sealed class FewShotPromptRenderer
{
    /// <summary>Creates a renderer.</summary>
    /// <param name="options">Instruction and ordering; defaults when null.</param>
    /// <exception cref="ArgumentOutOfRangeException">The ordering is not a defined value.</exception>
    public FewShotPromptRenderer(FewShotPromptOptions? options = null)
    {
        Options = options ?? new FewShotPromptOptions();
        if (!Enum.IsDefined(Options.Ordering))
        {
            throw new ArgumentOutOfRangeException(nameof(options), Options.Ordering, "Ordering must be MostSimilarLast or MostSimilarFirst.");
        }
    }

    /// <summary>The rendering options.</summary>
    public FewShotPromptOptions Options { get; }

    /// <summary>The examples in prompt order (selectors return best first).</summary>
    /// <param name="selected">Selected examples, best first.</param>
    /// <param name="ordering">Where the best example goes.</param>
    public static IReadOnlyList<FewShotExample> Order(IReadOnlyList<SelectedExample> selected, ExampleOrdering ordering)
    {
        ArgumentNullException.ThrowIfNull(selected);
        var ordered = new FewShotExample[selected.Count];
        for (int i = 0; i < ordered.Length; i++)
        {
            int source = ordering == ExampleOrdering.MostSimilarLast ? selected.Count - 1 - i : i;
            ordered[i] = selected[source].Example;
        }

        return ordered;
    }

    /// <summary>Only the example turns (user, assistant, user, assistant, …) in prompt order; no instruction, no input.</summary>
    /// <param name="selected">Selected examples, best first.</param>
    public List<ChatMessage> RenderExampleMessages(IReadOnlyList<SelectedExample> selected)
    {
        var messages = new List<ChatMessage>(selected.Count * 2);
        foreach (var example in Order(selected, Options.Ordering))
        {
            messages.Add(new ChatMessage(ChatRole.User, example.Input));
            messages.Add(new ChatMessage(ChatRole.Assistant, example.Output));
        }

        return messages;
    }

    /// <summary>The whole prompt: [system instruction], the example turns, then the real input as the last user turn.</summary>
    /// <param name="selected">Selected examples, best first.</param>
    /// <param name="input">The real input.</param>
    public List<ChatMessage> RenderMessages(IReadOnlyList<SelectedExample> selected, string input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var messages = new List<ChatMessage>(selected.Count * 2 + 2);
        if (!string.IsNullOrWhiteSpace(Options.Instruction))
        {
            messages.Add(new ChatMessage(ChatRole.System, Options.Instruction));
        }

        messages.AddRange(RenderExampleMessages(selected));
        messages.Add(new ChatMessage(ChatRole.User, input));
        return messages;
    }

    /// <summary>The same prompt as <see cref="RenderMessages"/>, as a Semantic Kernel <see cref="ChatHistory"/>.</summary>
    /// <param name="selected">Selected examples, best first.</param>
    /// <param name="input">The real input.</param>
    public ChatHistory RenderChatHistory(IReadOnlyList<SelectedExample> selected, string input)
    {
        ArgumentNullException.ThrowIfNull(selected);
        ArgumentNullException.ThrowIfNull(input);
        var history = string.IsNullOrWhiteSpace(Options.Instruction) ? new ChatHistory() : new ChatHistory(Options.Instruction);
        foreach (var example in Order(selected, Options.Ordering))
        {
            history.AddUserMessage(example.Input);
            history.AddAssistantMessage(example.Output);
        }

        history.AddUserMessage(input);
        return history;
    }
}
