using LlmKit.Chat.Templates;
using LlmKit.Models;
using LlmKit.Plugins.Compression.History;
using Microsoft.Extensions.AI;

namespace ChatAgent;

/// <summary>
/// Keeps an interactive conversation inside the model's context. Before each answer the history is measured with the
/// real chat template and tokenizer; when it would not leave <see cref="ReplyTokens"/> free, the compression plugin's
/// <see cref="TokenBudgetTruncationReducer"/> drops the oldest turns (the system message always stays first).
/// </summary>
internal sealed class ConversationWindow
{
    // The reducer's smallest allowed budget (HistoryReducerOptions.MaxTokens); at it only the system message and the newest turn remain.
    private const int MinimumReducerBudget = 16;

    private readonly OnnxGenAIModel _model;
    private readonly IChatTemplate _template;

    /// <param name="model">The loaded model (its max length is the context).</param>
    /// <param name="template">The template the chat client renders with, so counts match what the model reads.</param>
    /// <param name="maxNewTokens">--max-tokens, or null.</param>
    public ConversationWindow(OnnxGenAIModel model, IChatTemplate template, int? maxNewTokens)
    {
        _model = model;
        _template = template;

        // Room for the answer: --max-tokens, else a quarter of the context; at most half, so the history keeps the rest.
        ReplyTokens = Math.Clamp(maxNewTokens ?? model.MaxLength / 4, 1, Math.Max(1, model.MaxLength / 2));
        PromptBudget = model.MaxLength - ReplyTokens;
    }

    /// <summary>Most tokens an answer may take: the room kept free after the prompt.</summary>
    public int ReplyTokens { get; }

    /// <summary>Most tokens the rendered prompt (system message, kept turns, new message) may take.</summary>
    public int PromptBudget { get; }

    /// <summary>The model's max length (prompt plus answer).</summary>
    public int MaxLength => _model.MaxLength;

    /// <summary>Tokens of the prompt the chat template renders for <paramref name="messages"/>, as the model will read it.</summary>
    public int CountPromptTokens(IReadOnlyList<ChatMessage> messages)
    {
        var rendered = _template.Render(messages.Select(m => new ChatTemplateMessage(ToTemplateRole(m.Role), m.Text)).ToList());
        return _model.Tokenizer.Encode(rendered.Text, rendered.AddBos).Length;
    }

    /// <summary>
    /// <paramref name="history"/> when it fits <see cref="PromptBudget"/>, else the newest turns that do (the system message
    /// first, the last message always kept). The caller checks beforehand that the system message and the newest message fit.
    /// </summary>
    public async Task<List<ChatMessage>> FitAsync(List<ChatMessage> history, CancellationToken cancellationToken)
    {
        int tokens = CountPromptTokens(history);
        if (tokens <= PromptBudget)
        {
            return history;
        }

        // Trim below the budget, not just to it: the next few turns then extend an unchanged prefix, whose KV cache the
        // model reuses, instead of every turn dropping one more turn and re-reading the whole prompt.
        int target = PromptBudget * 3 / 4;
        List<ChatMessage> fitted = history;
        while (true)
        {
            fitted = await ReduceAsync(history, target, cancellationToken);
            tokens = CountPromptTokens(fitted);

            // The reducer counts "role: text" plus a per-message overhead, close to the template's count but not equal to
            // it; when the real count is still over, tighten the reducer's budget by the excess and reduce again.
            if (tokens <= PromptBudget || target <= MinimumReducerBudget)
            {
                return fitted;
            }

            target = Math.Max(MinimumReducerBudget, target - (tokens - PromptBudget));
        }
    }

    private async Task<List<ChatMessage>> ReduceAsync(List<ChatMessage> history, int budget, CancellationToken cancellationToken)
    {
        var reducer = new TokenBudgetTruncationReducer(_model.Tokenizer.Inner, new HistoryReducerOptions
        {
            MaxTokens = Math.Max(MinimumReducerBudget, budget),

            // The omission note is a system message in mid-conversation, which chat templates reject (ChatML, Llama 2, ...);
            // the session tells the user instead.
            AnnotateOmissions = false,
        });
        return [.. await reducer.ReduceAsync(history, cancellationToken)];
    }

    private static ChatTemplateRole ToTemplateRole(ChatRole role) =>
        role == ChatRole.System ? ChatTemplateRole.System
        : role == ChatRole.User ? ChatTemplateRole.User
        : ChatTemplateRole.Assistant;
}
