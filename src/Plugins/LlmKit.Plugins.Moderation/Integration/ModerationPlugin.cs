using System.ComponentModel;
using Microsoft.SemanticKernel;

namespace LlmKit.Plugins.Moderation.Integration;

/// <summary>Kernel functions that expose the moderator to prompts, planners and agents. Thread-safe.</summary>
/// <param name="moderator">The moderator.</param>
public sealed class ModerationPlugin(DomainModerator moderator)
{
    /// <summary>The plugin name used by the DI registration: "moderation".</summary>
    public const string DefaultPluginName = "moderation";

    private readonly DomainModerator _moderator = moderator ?? throw new ArgumentNullException(nameof(moderator));

    /// <summary>Checks a text as a user message: injection, then the domain.</summary>
    /// <param name="text">The text to check.</param>
    /// <param name="cancellationToken">Cancels the check.</param>
    /// <returns>The decision.</returns>
    [KernelFunction("check_text")]
    [Description("Checks whether a text stays on the assistant's domain and contains no prompt injection. Returns allowed, score, threshold, category (Allowed, OffDomain, Injection), reason and the deciding path.")]
    public Task<ModerationResult> CheckTextAsync(
        [Description("The text to check.")] string text,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        return _moderator.CheckInputAsync(text, cancellationToken);
    }
}
