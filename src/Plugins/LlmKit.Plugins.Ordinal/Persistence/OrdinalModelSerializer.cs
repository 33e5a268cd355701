using System.Text.Json;
using System.Text.Json.Serialization;
using LlmKit.Plugins.Ordinal.Heads;
using LlmKit.Plugins.Ordinal.Training;

namespace LlmKit.Plugins.Ordinal.Persistence;

/// <summary>
/// Saves and loads an <see cref="OrdinalModel"/> as JSON: a format name and version, the rank names, the
/// standardisation, the optional hidden layer and the head's parameters. Floats are written in shortest
/// round-trip form, so a loaded model predicts bit-identically to the saved one.
/// </summary>
/// <remarks>
/// A file written by a newer format version is refused with <see cref="NotSupportedException"/>; a damaged
/// or inconsistent file with <see cref="InvalidDataException"/> naming the problem. Stateless and thread-safe.
/// </remarks>
public static class OrdinalModelSerializer
{
    /// <summary>The format name stored in every file.</summary>
    public const string FormatName = "llmkit.ordinal-model";

    /// <summary>The newest format version this build reads and the one it writes.</summary>
    public const int CurrentFormatVersion = 1;

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = false,
    };

    /// <summary>Serialises a model to a JSON string.</summary>
    /// <param name="model">The model (with a built-in head).</param>
    /// <exception cref="NotSupportedException">The model's head is a custom <see cref="IOrdinalHead"/>.</exception>
    public static string ToJson(OrdinalModel model) => JsonSerializer.Serialize(ToDocument(model), JsonOptions);

    /// <summary>Reads a model from a JSON string.</summary>
    /// <param name="json">Text written by <see cref="ToJson"/> or <see cref="SaveAsync"/>.</param>
    /// <exception cref="InvalidDataException">The text is not a valid model file (the message says what is wrong).</exception>
    /// <exception cref="NotSupportedException">The file was written by a newer format version.</exception>
    public static OrdinalModel FromJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        OrdinalModelDocument? document;
        try
        {
            using (var parsed = JsonDocument.Parse(json))
            {
                CheckHeader(parsed.RootElement);
            }

            document = JsonSerializer.Deserialize<OrdinalModelDocument>(json, JsonOptions);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"The ordinal model file is not valid JSON or has a field of the wrong type: {ex.Message}", ex);
        }

        return FromDocument(document ?? throw new InvalidDataException("The ordinal model file is empty (JSON null)."));
    }

    /// <summary>Writes a model as UTF-8 JSON to a stream (left open).</summary>
    /// <param name="model">The model.</param>
    /// <param name="stream">A writable stream.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    public static Task SaveAsync(OrdinalModel model, Stream stream, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return JsonSerializer.SerializeAsync(stream, ToDocument(model), JsonOptions, cancellationToken);
    }

    /// <summary>Reads a model from a UTF-8 JSON stream.</summary>
    /// <param name="stream">A readable stream.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <exception cref="InvalidDataException">The content is not a valid model file.</exception>
    /// <exception cref="NotSupportedException">The file was written by a newer format version.</exception>
    public static async Task<OrdinalModel> LoadAsync(Stream stream, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var reader = new StreamReader(stream, leaveOpen: true);
        string json = await reader.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
        return FromJson(json);
    }

    /// <summary>Writes a model to a file (created or overwritten).</summary>
    /// <param name="model">The model.</param>
    /// <param name="path">Destination path.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    public static async Task SaveToFileAsync(OrdinalModel model, string path, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        await using var stream = File.Create(path);
        await SaveAsync(model, stream, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads a model from a file.</summary>
    /// <param name="path">Path of a file written by <see cref="SaveToFileAsync"/>.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a valid model file (the message names the path and the problem).</exception>
    /// <exception cref="NotSupportedException">The file was written by a newer format version.</exception>
    public static async Task<OrdinalModel> LoadFromFileAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Ordinal model file '{path}' does not exist.", path);
        }

        string json = await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false);
        try
        {
            return FromJson(json);
        }
        catch (InvalidDataException ex)
        {
            throw new InvalidDataException($"'{path}': {ex.Message}", ex);
        }
    }

    /// <summary>Reads a model from a file synchronously (for DI factories and start-up code).</summary>
    /// <param name="path">Path of a file written by <see cref="SaveToFileAsync"/>.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a valid model file (the message names the path and the problem).</exception>
    /// <exception cref="NotSupportedException">The file was written by a newer format version.</exception>
    public static OrdinalModel LoadFromFile(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Ordinal model file '{path}' does not exist.", path);
        }

        try
        {
            return FromJson(File.ReadAllText(path));
        }
        catch (InvalidDataException ex)
        {
            throw new InvalidDataException($"'{path}': {ex.Message}", ex);
        }
    }

    private static void CheckHeader(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"The ordinal model file must hold a JSON object, not {root.ValueKind}.");
        }

        if (!root.TryGetProperty("format", out var format) || format.ValueKind != JsonValueKind.String || format.GetString() != FormatName)
        {
            throw new InvalidDataException($"Not an ordinal model file: the \"format\" field must be \"{FormatName}\".");
        }

        if (!root.TryGetProperty("format_version", out var version) || !version.TryGetInt32(out int number) || number < 1)
        {
            throw new InvalidDataException("The ordinal model file has no valid \"format_version\" (a positive integer).");
        }

        if (number > CurrentFormatVersion)
        {
            throw new NotSupportedException(
                $"The ordinal model file has format version {number}, written by a newer LlmKit; this version reads up to {CurrentFormatVersion}. Upgrade LlmKit.Plugins.Ordinal.");
        }
    }

    private static OrdinalModelDocument ToDocument(OrdinalModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.Head is not OrdinalHead head)
        {
            throw new NotSupportedException($"Only the built-in heads (CORAL, CORN, cumulative link) can be saved; this model's head is {model.Head.GetType().Name}.");
        }

        return new OrdinalModelDocument
        {
            Format = FormatName,
            FormatVersion = CurrentFormatVersion,
            Head = HeadName(head.Kind),
            Link = head is CumulativeLinkHead link ? (link.Link == CumulativeLinkFunction.Logit ? "logit" : "probit") : null,
            Labels = [.. model.LabelNames],
            InputDimension = head.InputDimension,
            EmbeddingModelId = model.EmbeddingModelId,
            Standardizer = model.Standardizer is { } s ? new StandardizerDocument { Mean = s.MeanArray, Scale = s.ScaleArray } : null,
            Hidden = head.Hidden is { } h ? new HiddenDocument { Units = h.Units, Weights = h.WeightArray, Biases = h.BiasArray } : null,
            Weights = head.ScoreWeights,
            Thresholds = head.ThresholdParameters,
        };
    }

    private static OrdinalModel FromDocument(OrdinalModelDocument document)
    {
        var labels = document.Labels ?? throw Missing("labels");
        var weights = document.Weights ?? throw Missing("weights");
        var thresholds = document.Thresholds ?? throw Missing("thresholds");
        if (document.InputDimension < 1)
        {
            throw new InvalidDataException($"\"input_dimension\" is {document.InputDimension}; it must be at least 1.");
        }

        try
        {
            HiddenLayer? hidden = null;
            if (document.Hidden is { } h)
            {
                var hiddenWeights = h.Weights ?? throw Missing("hidden.weights");
                var hiddenBiases = h.Biases ?? throw Missing("hidden.biases");
                if (h.Units != hiddenBiases.Length)
                {
                    throw new InvalidDataException($"\"hidden.units\" is {h.Units} but {hiddenBiases.Length} hidden biases are stored.");
                }

                hidden = new HiddenLayer(document.InputDimension, hiddenWeights, hiddenBiases);
            }

            OrdinalHead head = document.Head switch
            {
                "coral" => new CoralHead(weights, thresholds, hidden),
                "corn" => new CornHead(weights, thresholds, hidden),
                "cumulative_link" => CumulativeLinkFromRaw(document, weights, thresholds, hidden),
                _ => throw new InvalidDataException($"Unknown head \"{document.Head}\"; expected coral, corn or cumulative_link."),
            };
            if (head.InputDimension != document.InputDimension)
            {
                throw new InvalidDataException($"\"input_dimension\" is {document.InputDimension} but the stored weights fit {head.InputDimension} inputs.");
            }

            FeatureStandardizer? standardizer = null;
            if (document.Standardizer is { } s)
            {
                standardizer = new FeatureStandardizer(s.Mean ?? throw Missing("standardizer.mean"), s.Scale ?? throw Missing("standardizer.scale"));
            }

            return new OrdinalModel(head, labels, standardizer, document.EmbeddingModelId);
        }
        catch (ArgumentException ex)
        {
            throw new InvalidDataException($"The ordinal model file is inconsistent: {ex.Message}", ex);
        }
    }

    private static CumulativeLinkHead CumulativeLinkFromRaw(OrdinalModelDocument document, float[] weights, float[] raw, HiddenLayer? hidden)
    {
        var link = document.Link switch
        {
            "logit" => CumulativeLinkFunction.Logit,
            "probit" => CumulativeLinkFunction.Probit,
            _ => throw new InvalidDataException($"Unknown link \"{document.Link}\" for a cumulative_link head; expected logit or probit."),
        };
        FeatureGuard.ThrowIfNotFinite(weights, "weights");
        FeatureGuard.ThrowIfNotFinite(raw, "thresholds");
        return new CumulativeLinkHead(weights, raw, link, document.InputDimension, hidden);
    }

    private static string HeadName(OrdinalHeadKind kind) => kind switch
    {
        OrdinalHeadKind.Coral => "coral",
        OrdinalHeadKind.Corn => "corn",
        _ => "cumulative_link",
    };

    private static InvalidDataException Missing(string field) => new($"The ordinal model file has no \"{field}\" field.");

    private sealed class OrdinalModelDocument
    {
        public string? Format { get; set; }

        public int FormatVersion { get; set; }

        public string? Head { get; set; }

        public string? Link { get; set; }

        public List<string>? Labels { get; set; }

        public int InputDimension { get; set; }

        public string? EmbeddingModelId { get; set; }

        public StandardizerDocument? Standardizer { get; set; }

        public HiddenDocument? Hidden { get; set; }

        /// <summary>Score-layer weights, row-major.</summary>
        public float[]? Weights { get; set; }

        /// <summary>CORAL/CORN biases, or for cumulative link θ_0 followed by the softplus-inverse gaps.</summary>
        public float[]? Thresholds { get; set; }
    }

    private sealed class StandardizerDocument
    {
        public float[]? Mean { get; set; }

        public float[]? Scale { get; set; }
    }

    private sealed class HiddenDocument
    {
        public int Units { get; set; }

        public float[]? Weights { get; set; }

        public float[]? Biases { get; set; }
    }
}
