using LlmKit.Models;

namespace LlmKit.Generation;

/// <summary>
/// Speculative decoding with a small draft model: before each decode step the draft model proposes up to
/// <see cref="DraftTokens"/> tokens greedily from the same context, and the target model verifies them all in one
/// multi-token run. The output is the same as without it (token for token when decoding greedily; the same distribution
/// when sampling: greedy drafts are point masses, and a draft is accepted only when the target's own draw equals it).
/// Pays off when the draft model is much cheaper than the target and often agrees with it.
/// </summary>
/// <remarks>
/// The draft model must share the target's vocabulary: the same vocabulary size and the same bytes for every token id
/// (checked when a generation starts; <see cref="ArgumentException"/> otherwise). It keeps its own KV cache per generation,
/// rented from the draft model's pool. One <see cref="OnnxGenAIModel"/> may serve as the draft of many concurrent
/// generations (it is thread-safe). Not applied to beam search or when either model has a sliding window (the draft
/// model's window is refused); cannot be combined with <see cref="GenerationOptions.PromptLookup"/>.
/// </remarks>
public sealed record DraftModelOptions
{
    /// <summary>The draft model (loaded by the caller, who also disposes it after the generations using it end).</summary>
    public required OnnxGenAIModel Model { get; init; }

    /// <summary>Most draft tokens verified per target run, in [1, 64]. Default 4.</summary>
    public int DraftTokens { get; init; } = 4;

    /// <summary>Validates the settings.</summary>
    /// <exception cref="ArgumentNullException"><see cref="Model"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="DraftTokens"/> is outside [1, 64].</exception>
    public void Validate()
    {
        if (Model is null)
        {
            throw new ArgumentNullException(nameof(Model), "the draft model must be set.");
        }

        if (DraftTokens is < 1 or > 64)
        {
            throw new ArgumentOutOfRangeException(nameof(DraftTokens), DraftTokens, "draft model draft tokens must be in [1, 64].");
        }
    }

    /// <summary>Throws unless <see cref="Model"/> can draft for <paramref name="target"/>: same vocabulary, no sliding window.</summary>
    /// <exception cref="ArgumentException">The vocabularies differ or the draft model has a sliding window; the message says how.</exception>
    internal void EnsureCompatibleWith(OnnxGenAIModel target)
    {
        var draft = Model;
        if (draft.VocabularySize != target.VocabularySize || draft.Tokenizer.VocabularySize != target.Tokenizer.VocabularySize)
        {
            throw new ArgumentException(
                $"DraftModel: the draft model's vocabulary has {draft.VocabularySize} tokens but the target's has {target.VocabularySize}; a draft model must share the target's vocabulary.",
                nameof(GenerationOptions.DraftModel));
        }

        if (!ReferenceEquals(draft, target))
        {
            // Ids must mean the same text, not just be as many: compare the byte table entry by entry.
            for (int id = 0; id < target.Tokenizer.VocabularySize; id++)
            {
                if (!draft.Tokenizer.TokenBytes(id).SequenceEqual(target.Tokenizer.TokenBytes(id)))
                {
                    throw new ArgumentException(
                        $"DraftModel: token {id} differs between the draft model's tokenizer and the target's; a draft model must share the target's vocabulary.",
                        nameof(GenerationOptions.DraftModel));
                }
            }
        }

        if (draft.SlidingWindow is not null)
        {
            throw new ArgumentException(
                "DraftModel: the draft model has a sliding window, so its rejected drafts could not be rolled back; use a draft model without one.",
                nameof(GenerationOptions.DraftModel));
        }
    }
}
