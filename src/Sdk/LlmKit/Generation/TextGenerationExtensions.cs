using System.Runtime.CompilerServices;
using System.Text;
using LlmKit.Models;

namespace LlmKit.Generation;

/// <summary>Text in, text out: generation over an <see cref="OnnxGenAIModel"/> with streaming and stop sequences.</summary>
public static class TextGenerationExtensions
{
    /// <summary>Generates a completion of <paramref name="prompt"/> (encoded with the model's BOS convention, no chat template).</summary>
    /// <exception cref="ArgumentException">The prompt does not fit the model's max length.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range.</exception>
    /// <exception cref="OperationCanceledException">Cancelled; the check runs before every token.</exception>
    public static Task<GenerationResult> GenerateAsync(this OnnxGenAIModel model, string prompt, GenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(prompt);
        return model.GenerateAsync(model.Tokenizer.Encode(prompt), options, cancellationToken);
    }

    /// <summary>Generates a completion of a tokenized prompt. The work runs on the thread pool.</summary>
    public static Task<GenerationResult> GenerateAsync(this OnnxGenAIModel model, int[] promptTokens, GenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(promptTokens);

        // Validate synchronously so bad arguments throw at the call, not inside the task.
        var run = new TextGenerationRun(model, promptTokens, options);
        return Task.Run(() =>
        {
            using (run)
            {
                var text = new StringBuilder();
                while (!run.IsDone)
                {
                    text.Append(run.Step(cancellationToken, out _));
                }

                var generator = run.Generator;
                return new GenerationResult(
                    text.ToString(),
                    generator.GeneratedTokens.ToArray(),
                    generator.PromptLength,
                    generator.FinishReason!.Value,
                    run.TimeToFirstToken,
                    run.Elapsed)
                { CachedPromptTokenCount = generator.CachedPromptTokens };
            }

            // No token for Task.Run itself: the delegate must run to dispose the run (and return its pooled KV state);
            // the loop checks the token before every token instead.
        }, CancellationToken.None);
    }

    /// <summary>Streams a completion of <paramref name="prompt"/> token by token.</summary>
    /// <remarks>The prefill runs on the thread pool; each decode step runs on the thread that awaits the next item.
    /// Cancellation is checked before every token.</remarks>
    public static IAsyncEnumerable<GenerationUpdate> GenerateStreamingAsync(this OnnxGenAIModel model, string prompt, GenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(prompt);
        return model.GenerateStreamingAsync(model.Tokenizer.Encode(prompt), options, cancellationToken);
    }

    /// <summary>Streams a completion of a tokenized prompt token by token.</summary>
    public static IAsyncEnumerable<GenerationUpdate> GenerateStreamingAsync(this OnnxGenAIModel model, int[] promptTokens, GenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(promptTokens);
        var run = new TextGenerationRun(model, promptTokens, options);
        return Stream(run, cancellationToken);
    }

    private static async IAsyncEnumerable<GenerationUpdate> Stream(TextGenerationRun run, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using (run)
        {
            var generator = run.Generator;

            // Prefill is the long step: keep it off the caller's thread.
            string first = await Task.Run(() => run.Step(cancellationToken, out _).ToString(), cancellationToken).ConfigureAwait(false);
            yield return new GenerationUpdate(first, generator.Tokens[^1], generator.PromptLength, generator.GeneratedCount, generator.FinishReason)
            { CachedPromptTokenCount = generator.CachedPromptTokens };
            while (!run.IsDone)
            {
                string text = run.Step(cancellationToken, out int token).ToString();
                yield return new GenerationUpdate(text, token, generator.PromptLength, generator.GeneratedCount, generator.FinishReason)
                { CachedPromptTokenCount = generator.CachedPromptTokens };
            }
        }
    }
}
