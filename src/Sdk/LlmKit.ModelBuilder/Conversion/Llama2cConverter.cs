using System.Diagnostics;
using System.Reflection;
using Google.Protobuf;
using LlmKit.ModelBuilder.Lora;
using LlmKit.ModelBuilder.Onnx;
using LlmKit.ModelBuilder.Onnx.Protos;

namespace LlmKit.ModelBuilder;

/// <summary>
/// Converts a llama2.c checkpoint and tokenizer into an ONNX GenAI model folder: <c>model.onnx</c>
/// (+ <c>model.onnx.data</c> for large models), <c>genai_config.json</c>, <c>tokenizer.model</c>, <c>tokenizer.json</c>,
/// <c>tokenizer_config.json</c>, <c>special_tokens_map.json</c> and the <c>.llmkit-output</c> marker. The folder is
/// written next to its destination under a temporary name and renamed into place, so a failed or cancelled
/// conversion leaves nothing half-written and any previous folder intact. <see cref="Llama2cConversionRequest.Force"/>
/// replaces only a folder that carries the marker and nothing but a conversion's files, and no folder that holds
/// the checkpoint or tokenizer is ever written or replaced. Stateless and thread-safe (concurrent conversions need distinct output folders).
/// </summary>
public static class Llama2cConverter
{
    /// <summary>The ONNX model file name.</summary>
    public const string ModelFileName = "model.onnx";

    /// <summary>The external-data file name used for large models.</summary>
    public const string ExternalDataFileName = "model.onnx.data";

    /// <summary>The opset of the default ONNX domain the graphs use.</summary>
    public const int OnnxOpset = 17;

    /// <summary>Runs a conversion.</summary>
    /// <param name="request">What to convert and where.</param>
    /// <param name="cancellationToken">Cancels between tensors; the output folder is then left untouched.</param>
    /// <returns>The files written and the model's shape.</returns>
    /// <exception cref="ArgumentException">A path is empty; <see cref="Llama2cConversionRequest.MaxLength"/>, the external-data threshold, the graph form, the precision or the int4 accuracy level is out of range; int4 or <see cref="Llama2cConversionRequest.LoraInputs"/> is asked for without the OrtGenAI graph form, or the RoPE scaling is out of range.</exception>
    /// <exception cref="FileNotFoundException">The checkpoint or tokenizer does not exist (the message names it).</exception>
    /// <exception cref="InvalidDataException">The checkpoint is malformed or truncated, holds a NaN or infinite weight (the message names the tensor), or the tokenizer does not match its vocab_size.</exception>
    /// <exception cref="NotSupportedException">OrtGenAI form for a head size that is not a multiple of 8, or <see cref="Llama2cConversionRequest.RopeScaling"/> of type dynamic with the Standard graph form.</exception>
    /// <exception cref="IOException">The output path is a file or holds an input; or the output folder is not empty and <see cref="Llama2cConversionRequest.Force"/> is false, or it is not a folder llmkit wrote (no marker, or files a conversion does not write).</exception>
    public static ConversionSummary Convert(Llama2cConversionRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentException.ThrowIfNullOrWhiteSpace(request.CheckpointPath, nameof(request.CheckpointPath));
        ArgumentException.ThrowIfNullOrWhiteSpace(request.TokenizerPath, nameof(request.TokenizerPath));
        ArgumentException.ThrowIfNullOrWhiteSpace(request.OutputDirectory, nameof(request.OutputDirectory));
        if (request.MaxLength is <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(request), request.MaxLength, "MaxLength must be a positive number of tokens (or null for the checkpoint's seq_len).");
        }

        if (request.ExternalDataThresholdBytes < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(request), request.ExternalDataThresholdBytes, "ExternalDataThresholdBytes must be >= 0.");
        }

        if (!Enum.IsDefined(request.GraphForm))
        {
            throw new ArgumentOutOfRangeException(nameof(request), request.GraphForm, $"GraphForm must be {nameof(OnnxGraphForm.Standard)} or {nameof(OnnxGraphForm.OrtGenAI)}.");
        }

        if (!Enum.IsDefined(request.Precision) || request.Precision == WeightPrecision.Fp16)
        {
            throw new ArgumentOutOfRangeException(nameof(request), request.Precision, $"Precision must be {nameof(WeightPrecision.Fp32)} or {nameof(WeightPrecision.Int4)}.");
        }

        if (request.Precision == WeightPrecision.Int4 && request.GraphForm != OnnxGraphForm.OrtGenAI)
        {
            throw new ArgumentException($"Precision {nameof(WeightPrecision.Int4)} needs GraphForm {nameof(OnnxGraphForm.OrtGenAI)} (--graph ortgenai).", nameof(request));
        }

        if (request.Int4AccuracyLevel is < 0 or > 4)
        {
            throw new ArgumentOutOfRangeException(nameof(request), request.Int4AccuracyLevel, "Int4AccuracyLevel must be in [0, 4] (0 = exact fp32 activations, 4 = int8 activations).");
        }

        if (request.Int4ZeroPoints && request.Precision != WeightPrecision.Int4)
        {
            throw new ArgumentException($"Int4ZeroPoints applies only to Precision {nameof(WeightPrecision.Int4)}.", nameof(request));
        }

        if (request.RopeScaling?.Type == RopeScalingType.Dynamic && request.GraphForm != OnnxGraphForm.OrtGenAI)
        {
            throw new NotSupportedException($"RopeScaling 'dynamic' needs GraphForm {nameof(OnnxGraphForm.OrtGenAI)} (--graph ortgenai): only that form takes cos_cache/sin_cache as inputs the LlmKit runtime fills per run.");
        }

        if (request.LoraInputs && request.GraphForm != OnnxGraphForm.OrtGenAI)
        {
            throw new ArgumentException($"LoraInputs needs GraphForm {nameof(OnnxGraphForm.OrtGenAI)} (--graph ortgenai).", nameof(request));
        }

        var stopwatch = Stopwatch.StartNew();
        string output = OutputFolder.Normalize(request.OutputDirectory);
        string[] inputs = [request.CheckpointPath, request.TokenizerPath];
        OutputFolder.CheckDestination(output, inputs, request.Force);

        var checkpoint = Llama2cCheckpoint.Load(request.CheckpointPath, cancellationToken);
        FiniteWeights.Check(checkpoint, cancellationToken);
        if (request.GraphForm == OnnxGraphForm.OrtGenAI && checkpoint.Config.HeadSize % 8 != 0)
        {
            throw new NotSupportedException(
                $"The OrtGenAI graph form needs head_size to be a multiple of 8 (GroupQueryAttention on CPU); this checkpoint has head_size {checkpoint.Config.HeadSize}. Use the Standard graph form (--graph standard, GraphForm = Standard).");
        }

        var tokenizer = Llama2cTokenizerFile.Load(request.TokenizerPath, checkpoint.Config.VocabSize);
        var weights = WithRopeScaling(checkpoint.Weights, request.RopeScaling);
        int contextLength = request.MaxLength ?? weights.Config.RopeScaling?.ScaledLength ?? checkpoint.Config.SeqLen;
        if (request.GraphForm == OnnxGraphForm.Standard && RopeCacheSwitch.SwitchLength(weights.Config.RopeScaling, contextLength) is not null)
        {
            throw new NotSupportedException(
                "RopeScaling 'longrope' with different short and long factors switches RoPE tables at the original length, which only the OrtGenAI graph form emits. Use GraphForm = OrtGenAI (--graph ortgenai).");
        }

        // Write beside the destination and publish by rename: the old folder stays intact until the new one is complete.
        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        string staging = OutputFolder.SiblingName(output, "tmp");
        Directory.CreateDirectory(staging);
        try
        {
            WriteFolder(staging, weights, tokenizer, contextLength, request, cancellationToken);
            cancellationToken.ThrowIfCancellationRequested();
            OutputFolder.Publish(staging, output, inputs, request.Force);
        }
        catch
        {
            TryDeleteStaging(staging);
            throw;
        }

        var files = new DirectoryInfo(output).GetFiles()
            .OrderBy(f => f.Name, StringComparer.Ordinal)
            .Select(f => new WrittenFile(f.Name, f.Length))
            .ToList();
        return new ConversionSummary(output, files, weights.Config, request.GraphForm, contextLength, checkpoint.Config.ParameterCount, stopwatch.Elapsed)
        {
            Precision = request.Precision,
            Int4ZeroPoints = request.Precision == WeightPrecision.Int4 && request.Int4ZeroPoints,
            Int4AccuracyLevel = request.Precision == WeightPrecision.Int4 ? request.Int4AccuracyLevel : 0,
        };
    }

    /// <summary>The checkpoint's weights under its config plus the requested RoPE scaling (original length = seq_len unless given).</summary>
    private static Llama2cWeights WithRopeScaling(Llama2cWeights weights, RopeScaling? scaling)
    {
        if (scaling is null)
        {
            return weights;
        }

        scaling = scaling with { OriginalMaxPositionEmbeddings = scaling.OriginalMaxPositionEmbeddings ?? weights.Config.SeqLen };
        try
        {
            return weights.WithConfig(weights.Config with { RopeScaling = scaling });
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new ArgumentException($"RopeScaling: {e.Message}", nameof(scaling), e);
        }
    }

    private static void WriteFolder(string folder, Llama2cWeights weights, Llama2cTokenizerFile tokenizer, int contextLength, Llama2cConversionRequest request, CancellationToken cancellationToken)
    {
        var config = weights.Config;
        WriteModel(folder, weights, contextLength, request, cancellationToken);
        bool ortGenAI = request.GraphForm == OnnxGraphForm.OrtGenAI;
        var genAi = new GenAiConfigOptions(
            contextLength,
            WithPositionIds: !ortGenAI || !OrtGenAiGraphEmitter.UsesFusedRotary(config),
            PastPresentShareBuffer: ortGenAI, // GroupQueryAttention writes into KV buffers allocated at max_length
            ModelFileName);
        GenAiConfigWriter.Write(Path.Combine(folder, "genai_config.json"), GenAiDecoderFields.From(config), genAi);
        SentencePieceModelWriter.Write(Path.Combine(folder, "tokenizer.model"), tokenizer);
        TokenizerJsonWriter.Write(Path.Combine(folder, "tokenizer.json"), tokenizer); // onnxruntime-genai reads only this one
        TokenizerConfigWriter.WriteTokenizerConfig(Path.Combine(folder, "tokenizer_config.json"), contextLength);
        TokenizerConfigWriter.WriteSpecialTokensMap(Path.Combine(folder, "special_tokens_map.json"));
        OutputFolder.WriteMarker(folder, request.GraphForm, request.Precision);
    }

    private static void WriteModel(string folder, Llama2cWeights weights, int contextLength, Llama2cConversionRequest request, CancellationToken cancellationToken)
    {
        var config = weights.Config;
        long externalThreshold = request.ExternalDataThresholdBytes;

        // The graph stores a transposed classifier even when it is tied, plus the two RoPE tables.
        long weightBytes = sizeof(float) * (config.ParameterCount
            + (config.SharedClassifier ? (long)config.VocabSize * config.Dim : 0)
            + ((long)contextLength * config.HeadSize));
        using var store = weightBytes > externalThreshold
            ? new TensorStore(Path.Combine(folder, ExternalDataFileName))
            : new TensorStore();

        var graph = new GraphBuilder("main_graph");
        if (request.GraphForm == OnnxGraphForm.OrtGenAI)
        {
            var emitter = new OrtGenAiGraphEmitter(graph, store, weights, contextLength, request.Precision, request.Int4ZeroPoints, request.Int4AccuracyLevel);
            (request.LoraInputs ? emitter.WithLoraInputs() : emitter).Emit(cancellationToken);
        }
        else
        {
            new StandardGraphEmitter(graph, store, weights, contextLength).Emit(cancellationToken);
        }

        var model = new ModelProto
        {
            IrVersion = 8,
            ProducerName = "LlmKit.ModelBuilder",
            ProducerVersion = typeof(Llama2cConverter).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0",
            Graph = graph.Graph,
        };
        RopeCacheSwitch.AddMetadata(model, weights.Config.RopeScaling, contextLength);
        DynamicRopeInputs.AddMetadata(model, weights.Config.RopeScaling, weights.Config.RopeTheta, weights.Config.SeqLen);
        if (request.LoraInputs)
        {
            LoraGraphInputs.AddMetadata(model, LoraGraphInputs.Llama2cRowOrder);
        }
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = OnnxOpset });
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "com.microsoft", Version = 1 });

        cancellationToken.ThrowIfCancellationRequested();
        using var stream = new FileStream(Path.Combine(folder, ModelFileName), FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
        model.WriteTo(stream);
    }

    // The staging folder is this conversion's own, made above: deleting it recursively removes only what it wrote.
    private static void TryDeleteStaging(string path)
    {
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
        }
        catch (IOException)
        {
            // Best effort: a leftover hidden temp folder is harmless.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
