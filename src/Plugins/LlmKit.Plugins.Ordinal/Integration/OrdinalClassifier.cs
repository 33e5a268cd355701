using System.Diagnostics;
using LlmKit.Plugins.Ordinal.Heads;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LlmKit.Plugins.Ordinal.Integration;

/// <summary>
/// Rates texts on an ordinal scale: an <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> turns each text into a
/// vector, then the <see cref="OrdinalModel"/> (standardiser + head) turns the vector into rank probabilities.
/// Any embedding generator drops in, provided it produces vectors of the model's input width.
/// </summary>
/// <remarks>Thread-safe when the embedding generator is (the built-in hashing generator is).</remarks>
public sealed partial class OrdinalClassifier
{
    private readonly IEmbeddingGenerator<string, Embedding<float>> _embeddings;
    private readonly ILogger _logger;

    /// <summary>Creates a classifier.</summary>
    /// <param name="embeddings">The embedding generator the model was trained on.</param>
    /// <param name="model">The trained model.</param>
    /// <param name="logger">Optional logger.</param>
    public OrdinalClassifier(IEmbeddingGenerator<string, Embedding<float>> embeddings, OrdinalModel model, ILogger<OrdinalClassifier>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(embeddings);
        ArgumentNullException.ThrowIfNull(model);
        _embeddings = embeddings;
        Model = model;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        var metadata = embeddings.GetService(typeof(EmbeddingGeneratorMetadata)) as EmbeddingGeneratorMetadata;
        if (metadata?.DefaultModelId is { } generatorModel && model.EmbeddingModelId is { } trainedOn && generatorModel != trainedOn)
        {
            // Same width but another model: predictions would be meaningless, yet ids can differ harmlessly (aliases), so warn.
            LogModelMismatch(_logger, trainedOn, generatorModel);
        }

        if (metadata?.DefaultModelDimensions is int dimensions && dimensions != model.InputDimension)
        {
            throw new ArgumentException(
                $"The embedding generator produces {dimensions}-dimensional vectors but the model takes {model.InputDimension}; use the generator the model was trained with.",
                nameof(embeddings));
        }
    }

    /// <summary>The model.</summary>
    public OrdinalModel Model { get; }

    /// <summary>The names of the ranks, lowest first.</summary>
    public IReadOnlyList<string> LabelNames => Model.LabelNames;

    /// <summary>Rates one text.</summary>
    /// <param name="text">The text (non-null).</param>
    /// <param name="cancellationToken">Cancels embedding.</param>
    /// <exception cref="InvalidOperationException">The generator returned a vector of the wrong length or with non-finite values.</exception>
    public async Task<OrdinalRating> RateAsync(string text, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ratings = await RateAsync([text], cancellationToken).ConfigureAwait(false);
        return ratings[0];
    }

    /// <summary>Rates several texts with one embedding call.</summary>
    /// <param name="texts">The texts (none null).</param>
    /// <param name="cancellationToken">Cancels embedding.</param>
    /// <exception cref="InvalidOperationException">The generator returned the wrong number of vectors, a vector of the wrong length, or non-finite values.</exception>
    public async Task<IReadOnlyList<OrdinalRating>> RateAsync(IReadOnlyList<string> texts, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(texts);
        for (int i = 0; i < texts.Count; i++)
        {
            if (texts[i] is null)
            {
                throw new ArgumentException($"Text {i} is null.", nameof(texts));
            }
        }

        if (texts.Count == 0)
        {
            return [];
        }

        using var activity = OrdinalTelemetry.ActivitySource.StartActivity("ordinal.rate");
        activity?.SetTag("llmkit.ordinal.texts", texts.Count);
        long started = Stopwatch.GetTimestamp();
        var vectors = await EmbedAsync(texts, cancellationToken).ConfigureAwait(false);
        var ratings = new OrdinalRating[texts.Count];
        for (int i = 0; i < ratings.Length; i++)
        {
            ratings[i] = ToRating(Model.Predict(vectors[i]));
            OrdinalTelemetry.Ratings.Add(1, new KeyValuePair<string, object?>("llmkit.ordinal.rank", ratings[i].Rank));
        }

        double elapsedMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        OrdinalTelemetry.Duration.Record(elapsedMs);
        LogRated(_logger, texts.Count, elapsedMs);
        return ratings;
    }

    /// <summary>Embeds texts and checks every vector against the model's input width.</summary>
    internal async Task<float[][]> EmbedAsync(IReadOnlyList<string> texts, CancellationToken cancellationToken)
    {
        var embeddings = await _embeddings.GenerateAsync(texts, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (embeddings.Count != texts.Count)
        {
            throw new InvalidOperationException($"The embedding generator returned {embeddings.Count} vectors for {texts.Count} texts.");
        }

        var vectors = new float[texts.Count][];
        for (int i = 0; i < vectors.Length; i++)
        {
            var vector = embeddings[i].Vector;
            if (vector.Length != Model.InputDimension)
            {
                throw new InvalidOperationException(
                    $"The embedding of text {i} has {vector.Length} dimensions but the model takes {Model.InputDimension}; use the generator the model was trained with.");
            }

            vectors[i] = vector.ToArray();
            for (int c = 0; c < vectors[i].Length; c++)
            {
                if (!float.IsFinite(vectors[i][c]))
                {
                    throw new InvalidOperationException($"The embedding of text {i} has a non-finite value at column {c}.");
                }
            }
        }

        return vectors;
    }

    private OrdinalRating ToRating(OrdinalPrediction prediction)
    {
        var probabilities = new LabelProbability[Model.RankCount];
        for (int k = 0; k < probabilities.Length; k++)
        {
            probabilities[k] = new LabelProbability(Model.LabelNames[k], prediction.ClassProbabilities[k]);
        }

        return new OrdinalRating(Model.LabelNames[prediction.Rank], prediction.Rank, prediction.ExpectedRank, probabilities, prediction.Exceedance);
    }

    [LoggerMessage(EventId = 11, Level = LogLevel.Warning, Message = "The ordinal model was trained on embeddings from '{TrainedOn}' but the generator reports '{GeneratorModel}'")]
    private static partial void LogModelMismatch(ILogger logger, string trainedOn, string generatorModel);

    [LoggerMessage(EventId = 10, Level = LogLevel.Debug, Message = "Rated {Count} texts in {ElapsedMs:F1} ms")]
    private static partial void LogRated(ILogger logger, int count, double elapsedMs);
}
