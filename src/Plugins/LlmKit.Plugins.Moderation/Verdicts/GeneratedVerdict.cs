using Microsoft.Extensions.AI;

namespace LlmKit.Plugins.Moderation.Verdicts;

/// <summary>What a generated verdict said.</summary>
internal enum GeneratedAnswer
{
    InDomain,
    OffDomain,
    Uncertain,
}

/// <summary>
/// The verdict without a scorer (a remote chat service): one greedy token, accepted only when it is exactly
/// "True" or "False" (ignoring case, surrounding whitespace and one trailing period). Anything else is uncertain.
/// Thread-safe when the chat client is.
/// </summary>
internal sealed class GeneratedVerdict(IChatClient chatClient, VerdictPrompt prompt, int maxTextCharacters)
{
    private static readonly AsyncLocal<bool> InProgress = new();

    /// <summary>True inside a verdict call on this async flow: moderation middleware lets it through instead of recursing.</summary>
    public static bool IsInProgress => InProgress.Value;

    public async Task<(GeneratedAnswer Answer, string RawAnswer)> AskAsync(string text, CancellationToken cancellationToken)
    {
        InProgress.Value = true;
        try
        {
            return await AskCoreAsync(text, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            InProgress.Value = false;
        }
    }

    private async Task<(GeneratedAnswer Answer, string RawAnswer)> AskCoreAsync(string text, CancellationToken cancellationToken)
    {
        var messages = new List<ChatMessage>
        {
            new(ChatRole.System, prompt.SystemMessageForChat),
            new(ChatRole.User, prompt.ForChat(TokenBudget.CutAt(text, maxTextCharacters))),
        };
        var options = new ChatOptions { MaxOutputTokens = 1, Temperature = 0, TopK = 1, ToolMode = ChatToolMode.None };
        var response = await chatClient.GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
        string raw = response.Text ?? string.Empty;
        return (Parse(raw), raw);
    }

    public static GeneratedAnswer Parse(string raw)
    {
        var answer = raw.AsSpan().Trim();
        if (answer.EndsWith(".", StringComparison.Ordinal))
        {
            answer = answer[..^1];
        }

        if (answer.Equals("True", StringComparison.OrdinalIgnoreCase))
        {
            return GeneratedAnswer.InDomain;
        }

        return answer.Equals("False", StringComparison.OrdinalIgnoreCase) ? GeneratedAnswer.OffDomain : GeneratedAnswer.Uncertain;
    }
}
