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

        if ((options?.NumBeams ?? model.Config.Search.NumBeams) > 1)
        {
            return BeamSearchAsync(model, promptTokens, options, cancellationToken);
        }

        // Validate synchronously so bad arguments throw at the call, not inside the task.
        var run = new TextGenerationRun(model, promptTokens, options, cancellationToken);
        return Task.Run(async () =>
        {
            using (run)
            {
                var text = new StringBuilder();
                while (!run.IsDone)
                {
                    int token = await run.NextTokenAsync(cancellationToken).ConfigureAwait(false);
                    text.Append(run.Accept(token));
                }

                var source = run.Source;
                return new GenerationResult(
                    text.ToString(),
                    source.GeneratedTokens.ToArray(),
                    source.PromptLength,
                    source.FinishReason!.Value,
                    run.TimeToFirstToken,
                    run.Elapsed)
                {
                    CachedPromptTokenCount = source.CachedPromptTokens,
                    DraftedTokenCount = source.DraftedTokens,
                    AcceptedDraftTokenCount = source.AcceptedDraftTokens,
                };
            }

            // No token for Task.Run itself: the delegate must run to dispose the run (and return its pooled KV state);
            // the loop checks the token before every token instead.
        }, CancellationToken.None);
    }

    private static Task<GenerationResult> BeamSearchAsync(OnnxGenAIModel model, int[] promptTokens, GenerationOptions? options, CancellationToken cancellationToken)
    {
        if (options?.StopSequences is { Count: > 0 })
        {
            throw new NotSupportedException("Stop sequences are not applied to beam search (beams are scored as whole token sequences); remove them or set NumBeams = 1.");
        }

        if (options?.Constraint is not null)
        {
            throw new NotSupportedException("GenerationOptions.Constraint is not applied to beam search (beams would need one matcher each); remove it or set NumBeams = 1.");
        }

        var clock = System.Diagnostics.Stopwatch.StartNew();
        return Task.Run(() =>
        {
            var beams = model.BeamSearch(promptTokens, options, cancellationToken);
            var sequences = beams.Select(b =>
            {
                var ids = b.GeneratedTokenIds;
                return new GeneratedSequence(DecodeContinuation(model, promptTokens, ids), ids, b.Score, b.FinishReason);
            }).ToArray();
            var best = sequences[0];
            return new GenerationResult(best.Text, best.TokenIds, promptTokens.Length, best.FinishReason, clock.Elapsed, clock.Elapsed) { Sequences = sequences };
        }, CancellationToken.None);
    }

    /// <summary>Decodes generated ids as the streaming path does (a prompt of BOS alone starts the text).</summary>
    private static string DecodeContinuation(OnnxGenAIModel model, int[] prompt, IReadOnlyList<int> ids)
    {
        var detokenizer = model.Tokenizer.CreateDetokenizer(isSequenceStart: prompt.Length == 1 && prompt[0] == model.Tokenizer.BosTokenId);
        var text = new StringBuilder();
        foreach (int id in ids)
        {
            text.Append(detokenizer.Append(id));
        }

        return text.Append(detokenizer.Flush()).ToString();
    }

    /// <summary>Streams a completion of <paramref name="prompt"/> token by token.</summary>
    /// <remarks>The prefill runs on the thread pool; each decode step runs on the thread that awaits the next item, or
    /// on the model's batch scheduler thread when the request is batched (<see cref="OnnxGenAIModelOptions.MaxBatchSize"/>).
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
        if ((options?.NumBeams ?? model.Config.Search.NumBeams) > 1)
        {
            throw new NotSupportedException("Beam search cannot stream: the best sequence is known only at the end. Use GenerateAsync, or set NumBeams = 1.");
        }

        var run = new TextGenerationRun(model, promptTokens, options, cancellationToken);
        return Stream(run, cancellationToken);
    }

    private static async IAsyncEnumerable<GenerationUpdate> Stream(TextGenerationRun run, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using (run)
        {
            var source = run.Source;

            // A generator's prefill is the long step: keep it off the caller's thread. A batched sequence is prefilled
            // by the scheduler thread, so it is only awaited.
            int token = source.UsesBatching
                ? await run.NextTokenAsync(cancellationToken).ConfigureAwait(false)
                : await Task.Run(() => run.NextTokenAsync(cancellationToken).AsTask(), cancellationToken).ConfigureAwait(false);
            string text = run.Accept(token).ToString();
            yield return new GenerationUpdate(text, token, source.PromptLength, source.GeneratedCount, source.FinishReason)
            { CachedPromptTokenCount = source.CachedPromptTokens };
            while (!run.IsDone)
            {
                token = await run.NextTokenAsync(cancellationToken).ConfigureAwait(false);
                text = run.Accept(token).ToString();
                yield return new GenerationUpdate(text, token, source.PromptLength, source.GeneratedCount, source.FinishReason)
                { CachedPromptTokenCount = source.CachedPromptTokens };
            }
        }
    }
}
