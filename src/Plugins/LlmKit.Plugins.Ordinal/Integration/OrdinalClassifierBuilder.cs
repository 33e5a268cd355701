using LlmKit.Embeddings;
using LlmKit.Plugins.Ordinal.Training;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;

namespace LlmKit.Plugins.Ordinal.Integration;

/// <summary>
/// Collects labelled texts, embeds them and trains an <see cref="OrdinalClassifier"/>. Not thread-safe while
/// examples are being added; <see cref="BuildAsync"/> may be called more than once (each call trains anew).
/// </summary>
public sealed class OrdinalClassifierBuilder
{
    private readonly IEmbeddingGenerator<string, Embedding<float>> _embeddings;
    private readonly IReadOnlyList<string> _labelNames;
    private readonly Dictionary<string, int> _rankByName;
    private readonly List<(string Text, int Rank)> _examples = [];
    private OrdinalTrainerOptions _options = DefaultTrainerOptions;
    private ILoggerFactory? _loggerFactory;

    /// <summary>Starts a builder for a scale.</summary>
    /// <param name="labelNames">Rank names from lowest to highest (2 to 256 distinct names).</param>
    /// <param name="embeddings">The embedding generator; null for a default <see cref="HashingEmbeddingGenerator"/>.</param>
    /// <exception cref="ArgumentException">Fewer than two, duplicate or empty names.</exception>
    public OrdinalClassifierBuilder(IReadOnlyList<string> labelNames, IEmbeddingGenerator<string, Embedding<float>>? embeddings = null)
    {
        _labelNames = OrdinalDataset.ValidateLabelNames(labelNames);
        _embeddings = embeddings ?? new HashingEmbeddingGenerator();
        _rankByName = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < _labelNames.Count; i++)
        {
            _rankByName[_labelNames[i]] = i;
        }
    }

    /// <summary>
    /// The trainer options used unless <see cref="WithTrainerOptions"/> is called: the trainer's defaults but without
    /// feature standardisation. Text embeddings are already on a common scale, and for sparse ones (such as the hashing
    /// generator) standardising magnifies rarely seen dimensions, so an unseen text that hits one is rated erratically
    /// (measured on the severity test set: held-out MAE 0.60 with standardisation vs under 0.25 without, CORAL head).
    /// </summary>
    public static OrdinalTrainerOptions DefaultTrainerOptions { get; } = new() { Standardize = false };

    /// <summary>Number of examples added so far.</summary>
    public int Count => _examples.Count;

    /// <summary>Adds a labelled text.</summary>
    /// <param name="text">The text.</param>
    /// <param name="label">One of the declared rank names.</param>
    /// <exception cref="ArgumentException">The label is not a declared rank name.</exception>
    public OrdinalClassifierBuilder Add(string text, string label)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(label);
        if (!_rankByName.TryGetValue(label, out int rank))
        {
            throw new ArgumentException($"Label '{label}' of example {_examples.Count} is not one of the declared ranks ({string.Join(", ", _labelNames)}).", nameof(label));
        }

        _examples.Add((text, rank));
        return this;
    }

    /// <summary>Adds a text with a 0-based rank.</summary>
    /// <param name="text">The text.</param>
    /// <param name="rank">0 … K−1.</param>
    /// <exception cref="ArgumentOutOfRangeException">The rank is outside the declared ranks.</exception>
    public OrdinalClassifierBuilder Add(string text, int rank)
    {
        ArgumentNullException.ThrowIfNull(text);
        if ((uint)rank >= (uint)_labelNames.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(rank), rank, $"Rank of example {_examples.Count} must be in 0 … {_labelNames.Count - 1}.");
        }

        _examples.Add((text, rank));
        return this;
    }

    /// <summary>Sets the training options (<see cref="DefaultTrainerOptions"/> otherwise).</summary>
    /// <param name="options">The options.</param>
    public OrdinalClassifierBuilder WithTrainerOptions(OrdinalTrainerOptions options)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        return this;
    }

    /// <summary>Sets a logger factory for the trainer and the classifier.</summary>
    /// <param name="loggerFactory">The factory.</param>
    public OrdinalClassifierBuilder WithLogging(ILoggerFactory loggerFactory)
    {
        _loggerFactory = loggerFactory ?? throw new ArgumentNullException(nameof(loggerFactory));
        return this;
    }

    /// <summary>Embeds every example, trains the head and returns the classifier.</summary>
    /// <param name="cancellationToken">Cancels embedding and training.</param>
    /// <exception cref="InvalidOperationException">No examples were added, or the generator misbehaved.</exception>
    public async Task<OrdinalClassifier> BuildAsync(CancellationToken cancellationToken = default)
    {
        if (_examples.Count == 0)
        {
            throw new InvalidOperationException("Add at least one labelled text before building.");
        }

        var texts = new string[_examples.Count];
        var labels = new int[_examples.Count];
        for (int i = 0; i < texts.Length; i++)
        {
            (texts[i], labels[i]) = _examples[i];
        }

        var embeddings = await _embeddings.GenerateAsync(texts, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (embeddings.Count != texts.Length)
        {
            throw new InvalidOperationException($"The embedding generator returned {embeddings.Count} vectors for {texts.Length} texts.");
        }

        int width = embeddings[0].Vector.Length;
        var matrix = new float[checked(texts.Length * width)];
        for (int i = 0; i < texts.Length; i++)
        {
            var vector = embeddings[i].Vector.Span;
            if (vector.Length != width)
            {
                throw new InvalidOperationException($"The embedding generator returned {vector.Length} dimensions for text {i} but {width} for text 0.");
            }

            vector.CopyTo(matrix.AsSpan(i * width, width));
        }

        var data = new OrdinalDataset(matrix, width, labels, _labelNames);
        var trainer = new OrdinalTrainer(_options, _loggerFactory?.CreateLogger<OrdinalTrainer>());
        var result = await Task.Run(() => trainer.Train(data, cancellationToken), cancellationToken).ConfigureAwait(false);
        string? modelId = (_embeddings.GetService(typeof(EmbeddingGeneratorMetadata)) as EmbeddingGeneratorMetadata)?.DefaultModelId;
        var model = new OrdinalModel(result.Model.Head, result.Model.LabelNames, result.Model.Standardizer, modelId);
        return new OrdinalClassifier(_embeddings, model, _loggerFactory?.CreateLogger<OrdinalClassifier>());
    }
}
