using System.Runtime.InteropServices;
using LlmKit.Generation;
using Microsoft.ML.OnnxRuntime;

namespace LlmKit.Models;

/// <summary>
/// A LoRA adapter loaded into an <see cref="OnnxGenAIModel"/> with <see cref="OnnxGenAIModel.LoadAdapter"/>: the tensors
/// of an <c>.onnx_adapter</c> file, each feeding the graph input of the same name. Requests activate it by name
/// (<see cref="GenerationOptions.Adapter"/>). Immutable and thread-safe; the model owns it and releases its tensors when
/// the model is disposed.
/// </summary>
public sealed class LoraAdapter
{
    private readonly byte[][] _buffers; // pinned: the OrtValues point into them

    internal LoraAdapter(string name, string path, IReadOnlyList<OnnxAdapterParameter> parameters)
    {
        Name = name;
        FilePath = path;
        _buffers = new byte[parameters.Count][];
        ParameterNames = new string[parameters.Count];
        Values = new OrtValue[parameters.Count];
        for (int i = 0; i < parameters.Count; i++)
        {
            var p = parameters[i];
            _buffers[i] = GC.AllocateArray<byte>(Math.Max(1, p.Data.Length), pinned: true); // >= 1 byte: a valid address even for empty tensors
            p.Data.CopyTo(_buffers[i], 0);
            ParameterNames[i] = p.Name;
            Values[i] = Create(_buffers[i], p);
            ParameterBytes += p.Data.Length;
        }
    }

    /// <summary>The name requests use.</summary>
    public string Name { get; }

    /// <summary>The file it was loaded from.</summary>
    public string FilePath { get; }

    /// <summary>Total bytes of its tensors.</summary>
    public long ParameterBytes { get; }

    /// <summary>The graph inputs it feeds, in file order.</summary>
    internal string[] ParameterNames { get; }

    /// <summary>The tensors, parallel to <see cref="ParameterNames"/>; shared read-only by every run.</summary>
    internal OrtValue[] Values { get; }

    /// <summary>Releases the tensors (by the owning model, when it is disposed).</summary>
    internal void Release()
    {
        foreach (var value in Values)
        {
            value.Dispose();
        }
    }

    private static unsafe OrtValue Create(byte[] pinned, OnnxAdapterParameter p)
    {
        // The pinned object heap keeps the address stable for the OrtValue's lifetime (the adapter holds the array).
        nint address = (nint)System.Runtime.CompilerServices.Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(pinned));
        return OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, p.ElementType, p.Dims, address, p.Data.Length);
    }
}
