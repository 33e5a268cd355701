using Microsoft.ML.OnnxRuntimeGenAI;

namespace LlmKit.Testing;

/// <summary>
/// onnxruntime-genai 0.20.0 on a model folder, through its public managed API: the oracle LlmKit is compared with.
/// Conventions of the official runtime kept here in one place: <c>max_length</c> counts the prompt, and an EOS
/// token it picks is left out of the sequence.
/// </summary>
public sealed class OfficialRuntime : IDisposable
{
    private readonly Config _config;
    private readonly Model _model;
    private Tokenizer? _tokenizer;
    private Adapters? _adapters;

    /// <summary>Loads <paramref name="folder"/> in onnxruntime-genai with one intra-op thread.</summary>
    /// <param name="folder">An ONNX GenAI model folder.</param>
    public OfficialRuntime(string folder)
    {
        _config = new Config(folder);

        // One thread, as LlmKit's side runs: results must not depend on how work is split.
        _config.Overlay("""{"model":{"decoder":{"session_options":{"intra_op_num_threads":1}}}}""");
        _model = new Model(_config);
    }

    /// <summary>Loads a LoRA adapter (<c>.onnx_adapter</c>) under <paramref name="name"/> (official <c>Adapters.LoadAdapter</c>).</summary>
    /// <param name="path">The adapter file.</param>
    /// <param name="name">The name <see cref="Generate"/> and <see cref="FirstStepLogits"/> activate it by.</param>
    public void LoadAdapter(string path, string name)
    {
        _adapters ??= new Adapters(_model);
        _adapters.LoadAdapter(path, name);
    }

    /// <summary>The folder's model type as the official runtime reads it.</summary>
    public string ModelType => _model.GetModelType();

    /// <summary>The official tokenizer (needs tokenizer.json in the folder).</summary>
    public Tokenizer Tokenizer => _tokenizer ??= new Tokenizer(_model);

    /// <summary>Greedy (or configured) ids for <paramref name="prompt"/>, prompt included, as GetSequence returns them.</summary>
    /// <param name="prompt">Prompt ids.</param>
    /// <param name="maxLength">The official max_length (the prompt counts).</param>
    /// <param name="configure">Further search options.</param>
    /// <param name="adapter">A loaded adapter to activate (<c>Generator.SetActiveAdapter</c>), or null for the base model.</param>
    public int[] Generate(int[] prompt, int maxLength, Action<GeneratorParams>? configure = null, string? adapter = null)
    {
        using var parameters = new GeneratorParams(_model);
        parameters.SetSearchOption("max_length", maxLength);
        parameters.SetSearchOption("do_sample", false);
        configure?.Invoke(parameters);
        using var generator = new Generator(_model, parameters);
        Activate(generator, adapter);
        generator.AppendTokens(prompt);
        while (!generator.IsDone())
        {
            generator.GenerateNextToken();
        }

        return generator.GetSequence(0).ToArray();
    }

    /// <summary>The first <paramref name="count"/> sequences (beam search returns several), prompt included.</summary>
    /// <param name="prompt">Prompt ids.</param>
    /// <param name="maxLength">The official max_length (the prompt counts).</param>
    /// <param name="count">Sequences to return.</param>
    /// <param name="configure">Search options (num_beams and the like).</param>
    public int[][] GenerateMany(int[] prompt, int maxLength, int count, Action<GeneratorParams> configure)
    {
        using var parameters = new GeneratorParams(_model);
        parameters.SetSearchOption("max_length", maxLength);
        parameters.SetSearchOption("do_sample", false);
        configure(parameters);
        using var generator = new Generator(_model, parameters);
        generator.AppendTokens(prompt);
        while (!generator.IsDone())
        {
            generator.GenerateNextToken();
        }

        return [.. Enumerable.Range(0, count).Select(i => generator.GetSequence((ulong)i).ToArray())];
    }

    /// <summary>The logits of the prompt's last position after the prefill (the first generation step), widened to float.</summary>
    /// <param name="prompt">Prompt ids.</param>
    /// <param name="adapter">A loaded adapter to activate, or null for the base model.</param>
    public float[] FirstStepLogits(int[] prompt, string? adapter = null)
    {
        using var parameters = new GeneratorParams(_model);
        parameters.SetSearchOption("max_length", prompt.Length + 1);
        using var generator = new Generator(_model, parameters);
        Activate(generator, adapter);
        generator.AppendTokens(prompt);
        using var logits = generator.GetOutput("logits");
        long[] shape = logits.Shape();
        int vocab = checked((int)shape[^1]);
        int rows = checked((int)(logits.NumElements() / vocab));
        var result = new float[vocab];
        if (logits.Type() == ElementType.float16)
        {
            var data = logits.GetData<Half>().Slice((rows - 1) * vocab, vocab);
            for (int i = 0; i < vocab; i++)
            {
                result[i] = (float)data[i];
            }
        }
        else
        {
            logits.GetData<float>().Slice((rows - 1) * vocab, vocab).CopyTo(result);
        }

        return result;
    }

    /// <summary>The official tokenizer's ids for a text (0.20.0 adds no BOS to plain text).</summary>
    /// <param name="text">Text to encode.</param>
    public int[] Encode(string text)
    {
        using var sequences = Tokenizer.Encode(text);
        return sequences[0].ToArray();
    }

    /// <summary>The official tokenizer's text for ids (0.20.0 keeps a SentencePiece leading space).</summary>
    /// <param name="ids">Token ids.</param>
    public string Decode(int[] ids) => Tokenizer.Decode(ids);

    private void Activate(Generator generator, string? adapter)
    {
        if (adapter is not null)
        {
            generator.SetActiveAdapter(_adapters ?? throw new InvalidOperationException("LoadAdapter first."), adapter);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _tokenizer?.Dispose();
        _adapters?.Dispose();
        _model.Dispose();
        _config.Dispose();
    }
}
