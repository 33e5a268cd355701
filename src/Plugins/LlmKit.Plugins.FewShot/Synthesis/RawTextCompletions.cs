using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.TextGeneration;

namespace LlmKit.Plugins.FewShot.Synthesis;

/// <summary>Adapters that turn text-completion services into a <see cref="RawTextCompletion"/> for Magpie-style synthesis.</summary>
public static class RawTextCompletions
{
    /// <summary>
    /// Uses a Semantic Kernel <see cref="ITextGenerationService"/> (which continues a prompt without a chat template;
    /// LlmKit's <c>OnnxGenAIChatCompletionService</c> implements it) as a raw completion.
    /// </summary>
    /// <param name="service">The text generation service.</param>
    /// <param name="executionSettings">Settings for each call (use sampling so generated requests differ); null for the service defaults.</param>
    /// <returns>A delegate returning the first completion's text (empty when the service returns none).</returns>
    public static RawTextCompletion FromTextGeneration(ITextGenerationService service, PromptExecutionSettings? executionSettings = null)
    {
        ArgumentNullException.ThrowIfNull(service);
        return async (prompt, cancellationToken) =>
        {
            var results = await service.GetTextContentsAsync(prompt, executionSettings, kernel: null, cancellationToken).ConfigureAwait(false);
            return results.Count == 0 ? string.Empty : results[0].Text ?? string.Empty;
        };
    }
}
